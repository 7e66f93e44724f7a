"""
What the language model's tests share: a small text corpus, written once per test module.
"""
from pathlib import Path

import pytest

from tests.distillation.lm.test_lm_train import write_text


@pytest.fixture(scope='module')
def text(tmp_path_factory) -> Path:
    return write_text(tmp_path_factory.mktemp('text') / 'text')

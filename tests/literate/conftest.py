"""
One headless Chromium for each browser test module, started on first use;
and this package's site, built once in memory for the tests that read it.
"""

from pathlib import Path

import pytest

import labml_nn
from chromium import Browser, require_chromium
from labml_nn.literate.__main__ import TRANSLATIONS, build_site


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    require_chromium()
    with Browser(tmp_path_factory.mktemp('profile')) as browser:
        yield browser


@pytest.fixture(scope='session')
def package_site() -> dict:
    """
    Every file of the `labml_nn` package's site, in every language, by path.
    """
    return build_site(Path(labml_nn.__file__).parent, TRANSLATIONS).files

"""
One headless Chromium for each browser test module, started on first use.
"""

import pytest

from chromium import Browser, require_chromium


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    require_chromium()
    with Browser(tmp_path_factory.mktemp('profile')) as browser:
        yield browser

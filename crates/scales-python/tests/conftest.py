"""Every test starts from an empty registry."""

import pytest

from greplin import scales


@pytest.fixture(autouse=True)
def fresh_registry():
    scales.reset()
    yield
    scales.reset()

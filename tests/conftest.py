from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def pytest_addoption(parser):
    parser.addoption("--regen-expected", action="store_true",
                     help="rewrite tests/expected/*.json from the current code (review the diff!)")


@pytest.fixture
def regen(request):
    return request.config.getoption("--regen-expected")

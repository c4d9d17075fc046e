"""CI fails rather than skips (tests/ci_no_skip.py): pytest run inside the test, with and without FAIRUSE_NO_SKIP."""

from __future__ import annotations

SKIPPING = """
import pytest

def test_skips_inside():
    pytest.skip("chromium is not installed")

@pytest.mark.skipif(True, reason="tmux is not installed")
def test_skipped_by_mark():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
"""


def test_skips_fail_when_ci_forbids_them(pytester, monkeypatch):
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("FAIRUSE_NO_SKIP", "1")
    result = pytester.runpytest_inprocess("-p", "tests.ci_no_skip", "-ra")
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)  # the mark skips in setup: an error
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*FAIRUSE_NO_SKIP=1 forbids skips*chromium is not installed*"])


def test_skips_stay_skips_locally(pytester, monkeypatch):
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("FAIRUSE_NO_SKIP", raising=False)
    result = pytester.runpytest_inprocess("-p", "tests.ci_no_skip", "-ra")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == 0

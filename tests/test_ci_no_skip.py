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


MODULE_SKIPPING = """
import pytest

pytest.importorskip("no_such_module_for_fairuse", reason="the deploy extra is not installed")

def test_never_collected():
    pass
"""


def test_a_module_skipped_at_collection_fails_when_ci_forbids_skips(pytester, monkeypatch):
    pytester.makepyfile(test_module_skip=MODULE_SKIPPING, test_other="def test_passes():\n    pass\n")
    monkeypatch.setenv("FAIRUSE_NO_SKIP", "1")
    result = pytester.runpytest_inprocess("-p", "tests.ci_no_skip", "-ra")
    result.assert_outcomes(errors=1)  # a collection error, which stops the session before any test runs
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*ERROR collecting test_module_skip.py*",
                                 "*FAIRUSE_NO_SKIP=1 forbids skips*the deploy extra is not installed*"])


def test_a_module_skipped_at_collection_stays_a_skip_locally(pytester, monkeypatch):
    pytester.makepyfile(test_module_skip=MODULE_SKIPPING, test_other="def test_passes():\n    pass\n")
    monkeypatch.delenv("FAIRUSE_NO_SKIP", raising=False)
    result = pytester.runpytest_inprocess("-p", "tests.ci_no_skip", "-ra")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 0

"""A pytest plugin: with FAIRUSE_NO_SKIP=1 (set by .ci/run) a skipped test fails, so CI cannot go green without a
tier (browser, SQL shell, Spark, object storage) whose tools are missing. Locally skips stay skips, listed by -ra.

Two kinds of skip: a test's (pytest.skip or a skipif mark, in any phase of the test) and a whole module's at
collection (pytest.importorskip or pytest.skip(allow_module_level=True) at module level)."""

from __future__ import annotations

import os

import pytest


def _forbidden(report) -> bool:
    return report.skipped and os.environ.get("FAIRUSE_NO_SKIP") == "1" and not hasattr(report, "wasxfail")


def _message(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return f"skipped, and FAIRUSE_NO_SKIP=1 forbids skips (CI runs every tier): {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip (pytest.skip or a skipif mark, in any phase) becomes a failure naming the skip's reason; an xfail
    stays what it is."""
    report = yield
    if _forbidden(report):
        report.longrepr = _message(report)
        report.outcome = "failed"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped while it is collected (a module-level importorskip) becomes a collection error naming the
    skip's reason, before the other plugins (the terminal summary, the exit status) see the report."""
    report = yield
    if _forbidden(report):
        report.longrepr = _message(report)
        report.outcome = "failed"
    return report

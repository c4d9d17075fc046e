"""Shared fixtures: the conformance raw set with its delivery times, policy variants, pipeline runs.

Two tiers: `pytest -m "not slow"` (pure functions, validation, the loader, definitions loading: seconds) and the
end-to-end tier marked `slow` (real Dagster + dbt + DuckDB runs). The dbt manifest is parsed when stale, by
whatever builds the definitions first; nothing parses it at session start.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO / "tests" / "conformance"

# Tests never touch data/: keep any FAIRUSE_* of the caller's shell out of them.
for _var in ("FAIRUSE_RAW_DIR", "FAIRUSE_WAREHOUSE", "FAIRUSE_EXPORTS_DIR", "FAIRUSE_POLICY_FILE",
             "FAIRUSE_REPORTS_DIR", "DAGSTER_HOME"):
    os.environ.pop(_var, None)
os.environ.setdefault("FAIRUSE_HASH_KEY", "test-key-not-secret")

# FAIRUSE_NO_SKIP=1 (CI) turns skips into failures (tests/ci_no_skip.py); pytester runs pytest inside a test.
pytest_plugins = ["tests.ci_no_skip", "pytester"]


def copy_conformance_raw(dest: Path) -> Path:
    raw = dest / "raw"
    shutil.copytree(CONFORMANCE / "raw", raw)
    for rel, iso in json.loads((CONFORMANCE / "delivery_times.json").read_text()).items():
        t = dt.datetime.fromisoformat(iso).timestamp()
        os.utime(raw / rel, (t, t))
    return raw


def upload_conformance_raw(fs, raw: Path, prefix: str) -> None:
    """Upload a copy of the conformance raw set to a bucket's prefix as the exporter delivered it: an object's
    modification time is its upload's (S3 keeps no other), so files go up in delivery order, each later delivery
    in a later second (LastModified has whole seconds)."""
    import math
    import time

    times = json.loads((CONFORMANCE / "delivery_times.json").read_text())
    for iso in sorted(set(times.values())):
        for rel in sorted(r for r, t in times.items() if t == iso):
            fs.put_file(str(raw / rel), f"{prefix}/{rel}")
        now = time.time()
        time.sleep(math.ceil(now) - now + 0.05)


def late_calls_file(raw: Path, dest: Path, rows: int = 4) -> Path:
    """A late delivery for February of the conformance set: the first `rows` calls of its main export under new
    call ids, written to `dest`."""
    import pyarrow.parquet as pq

    table = pq.read_table(raw / "calls" / "month=2026-02" / "feb-export.parquet").slice(0, rows)
    ids = [f"{i}-late" for i in table.column("call_id").to_pylist()]
    pq.write_table(table.set_column(table.schema.get_field_index("call_id"), "call_id", [ids]), dest)
    return dest


def policy_with(tmp: Path, **changes) -> Path:
    """A copy of the repo's policy file with some values changed (dotted keys)."""
    import yaml

    raw = yaml.safe_load((REPO / "policy" / "fair_use_policy.yaml").read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_pipeline(workdir: Path, raw: Path, months=None, policy: Path | None = None, accept_incomplete=False):
    """Run the real pipeline (Dagster in process, dbt, DuckDB) and return (settings, outcomes).
    `accept_incomplete`: publish months the completeness gate holds (hand-built months of a few days' calls)."""
    from dagster_project.cli.run import default_months, run_months
    from dagster_project.domain.settings import get_settings

    settings = get_settings(str(raw), str(workdir / "warehouse.duckdb"), str(workdir / "exports"),
                            str(policy) if policy else None)
    outcomes = run_months(settings, months or default_months(settings), out=io.StringIO(),
                          accept_incomplete=accept_incomplete)
    return settings, outcomes


@pytest.fixture(scope="session")
def conformance_build(tmp_path_factory):
    """Both conformance months at 60/60 with min_cohort_size 3, in the machine's time zone."""
    tmp = tmp_path_factory.mktemp("conformance")
    raw = copy_conformance_raw(tmp)
    policy = policy_with(tmp, **{"cohorts.min_cohort_size": 3})
    settings, outcomes = run_pipeline(tmp, raw, policy=policy)
    assert all(o.success for o in outcomes), outcomes
    return settings


SAMPLE_MONTHS = ["2026-01", "2026-02"]


@pytest.fixture(scope="session")
def sample_raw(tmp_path_factory):
    """A small generated sample (150 users, two months, planted bad rows, duplicates, late file, patterns).
    Shared by the end-to-end modules: never modify it (copy it first)."""
    from dagster_project.tools.generate import generate

    raw = tmp_path_factory.mktemp("sample") / "raw"
    generate(out=raw, users=150, months=SAMPLE_MONTHS, seed=11, calls_per_user=15)
    return raw


@pytest.fixture(scope="session")
def sample_build(sample_raw, tmp_path_factory):
    """Both sample months through the real pipeline, once per session. Tests read it; a test that re-runs it
    must leave it as it was (a re-run on unchanged data is identical)."""
    settings, outcomes = run_pipeline(tmp_path_factory.mktemp("sample-build"), sample_raw)
    assert [o.month for o in outcomes if o.success] == SAMPLE_MONTHS, outcomes
    return settings


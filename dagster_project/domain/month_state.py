"""Where each month stands: a small JSON file beside the published warehouse, written by runs, read by anyone.

`fairuse status`, the CLI's summary and the Dagster UI read it; it never needs the build database (which a run
holds), so it is safe to read during a run. Writes are atomic (a temporary file renamed over the old one) and
serialised by an flock on a sibling lock file, so two processes never lose each other's update.

The file lives beside the warehouse (`<warehouse dir>/<warehouse stem>.months.json`), not in the build folder:
when the build folder is lost, the record of what was published survives with the published file.

States of a month (`MonthState.state`):
- `building`   a run started it and has not finished (a killed run leaves it here: its `run` names the run);
- `built`      its dbt build succeeded, not yet published;
- `published`  in the published warehouse, exports written;
- `failed`     its run failed (`step`, `error`);
- `held`       the completeness gate held it (`reason`): nothing of it was published;
- `accepted_incomplete`  published although the gate held it, by an operator's explicit choice (`reason`).

A published month whose rebuild by `fairuse run` failed or was held keeps its published state (what analysts and
finance have is still that month); the rebuild's own record (state, step, error, reason, run) is kept beside it
under `rebuild`, and that is what says whether the build database holds it whole (domain/publish.is_whole). The
next state recorded for the month replaces it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATES = ("building", "built", "published", "failed", "held", "accepted_incomplete")
PUBLISHED_STATES = ("published", "accepted_incomplete")  # in the published warehouse, exports written


def state_path(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.stem}.months.json")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_months(warehouse: Path) -> dict[str, dict[str, Any]]:
    """Every recorded month (YYYY-MM -> its record); {} when nothing was recorded yet."""
    try:
        data = json.loads(state_path(warehouse).read_text())
    except (OSError, ValueError):
        return {}
    months = data.get("months") if isinstance(data, dict) else None
    return months if isinstance(months, dict) else {}


@contextmanager
def _locked(warehouse: Path) -> Iterator[None]:
    path = state_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write(path: Path, months: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"months": dict(sorted(months.items()))}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def record(warehouse: Path, month: str, state: str, **fields: Any) -> dict[str, Any]:
    """Set `month`'s state (and any other fields, e.g. step, error, reason, policy_version, code_version, run_id);
    fields given as None are removed. Returns the month's new record."""
    if state not in STATES:
        raise ValueError(f"unknown month state {state!r}: one of {', '.join(STATES)}")
    path = state_path(warehouse)
    with _locked(warehouse):
        months = read_months(warehouse)
        entry = dict(months.get(month, {}))
        entry.pop("rebuild", None)  # a new state describes the month's build itself
        entry.update({"state": state, "updated_at": now_utc(), f"{state}_at": now_utc()})
        for key, value in fields.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        months[month] = entry
        _write(path, months)
    return entry


def keep_published(warehouse: Path, month: str, published: dict[str, Any], rebuild: dict[str, Any]) -> dict[str, Any]:
    """After a failed or held rebuild of a month that was published: its record goes back to `published` (its record
    as published: state, reason, versions, times), with the rebuild's record beside it under `rebuild`. Returns the
    month's new record."""
    if published.get("state") not in PUBLISHED_STATES:
        raise ValueError(f"month {month} was not published ({published.get('state')})")
    path = state_path(warehouse)
    with _locked(warehouse):
        months = read_months(warehouse)
        entry = {**{k: v for k, v in published.items() if k != "rebuild"}, "updated_at": now_utc(),
                 "rebuild": {k: v for k, v in rebuild.items() if v is not None}}
        months[month] = entry
        _write(path, months)
    return entry

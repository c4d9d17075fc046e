"""The Dagster instance `fairuse run` executes against: $DAGSTER_HOME's, or an in-memory one without it.

A clean start: when $DAGSTER_HOME has no dagster.yaml, the project's shipped instance settings
(`dagster_home.yaml` at the repository root: telemetry off, no pop-ups, the run queue, the event log storage) are
written there first, so Dagster never greets a run with "No dagster instance configuration file" or its
telemetry notice. An existing dagster.yaml (a production instance on PostgreSQL, say) is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project.domain.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "dagster_home.yaml"
# If the shipped file is missing (an installation without the repository): the part that keeps a run quiet.
_MINIMAL = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def ensure_instance_config(home: Path) -> bool:
    """Write the shipped settings to `home`/dagster.yaml unless a dagster.yaml is there; True when written.
    Atomic and first-writer-wins: two processes starting at once never see a half-written file."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if target.exists():
        return False
    text = SHIPPED.read_text() if SHIPPED.exists() else _MINIMAL
    tmp = home / f".dagster.yaml.{os.getpid()}.tmp"
    tmp.write_text(text)
    try:
        os.link(tmp, target)  # fails if another process (or the operator) wrote one meanwhile: theirs stays
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def dagster_instance():
    """$DAGSTER_HOME's instance (its dagster.yaml written first when missing), else an ephemeral one."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if home:
        ensure_instance_config(Path(home))
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()

"""Late data: new or changed files in an already-built month's raw folders request a re-run of that month, and so
do new or changed files of a month the completeness gate held (the rest of its delivery arrived).

A month counts as built when the published warehouse lists its loaded files (audit.loaded_files). The run key is
a fingerprint of the month's current files, so one change requests exactly one run, even if it fails.
"""

import dagster as dg

from dagster_project.defs.jobs import JOB_NAME
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain import month_state
from dagster_project.domain.raw_files import late_files, month_fingerprint


def changed_months(raw_dir, warehouse) -> dict[str, str]:
    """Built months whose raw files differ from what was loaded -> fingerprint of the files now present."""
    return {month: late.fingerprint for month, late in late_files(raw_dir, warehouse).items()}


def changed_held_months(raw_dir, warehouse) -> dict[str, str]:
    """Months the completeness gate held whose raw files changed since (the rest of a delivery arrived) ->
    fingerprint of the files now present."""
    out = {}
    for month, entry in month_state.read_months(warehouse).items():
        if entry.get("state") == "held" and entry.get("fingerprint"):
            now = month_fingerprint(raw_dir, month)
            if now != entry["fingerprint"]:
                out[month] = now
    return out


@dg.sensor(
    job_name=JOB_NAME,  # the job of the definitions it is in (definitions.py), tagged with their warehouse
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-runs an already-built or held month (and everything downstream) when its raw files change.",
)
def late_data_sensor(context: dg.SensorEvaluationContext, fairuse: FairuseResource):
    s = fairuse.settings()
    changes = {**changed_held_months(s.raw_dir, s.warehouse), **changed_months(s.raw_dir, s.warehouse)}
    if not changes:
        return dg.SkipReason("no new or changed files in built or held months")
    return [dg.RunRequest(run_key=f"{month}:{fingerprint}", partition_key=month,
                          tags={"fairuse/trigger": "late-data"})
            for month, fingerprint in changes.items()]

"""Late data: new or changed files in an already-built month's raw folders request a re-run of that month.

A month counts as built when the published warehouse lists its loaded files (audit.loaded_files). The run key is
a fingerprint of the month's current files, so one change requests exactly one run, even if it fails.
"""

import dagster as dg

from dagster_project.defs.jobs import monthly_pipeline
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain.raw_files import late_files


def changed_months(raw_dir, warehouse) -> dict[str, str]:
    """Built months whose raw files differ from what was loaded -> fingerprint of the files now present."""
    return {month: late.fingerprint for month, late in late_files(raw_dir, warehouse).items()}


@dg.sensor(
    job=monthly_pipeline,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-runs an already-built month (and everything downstream) when its raw files change.",
)
def late_data_sensor(context: dg.SensorEvaluationContext, fairuse: FairuseResource):
    s = fairuse.settings()
    changes = changed_months(s.raw_dir, s.warehouse)
    if not changes:
        return dg.SkipReason("no new or changed files in built months")
    return [dg.RunRequest(run_key=f"{month}:{fingerprint}", partition_key=month,
                          tags={"fairuse/trigger": "late-data"})
            for month, fingerprint in changes.items()]

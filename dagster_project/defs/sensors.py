"""Late data: new or changed files in an already-built month's raw folders request a re-run of that month.

A month counts as built when the published warehouse lists its loaded files (audit.loaded_files). The run key is
a fingerprint of the month's current files, so one change requests exactly one run, even if it fails.
"""

import hashlib

import dagster as dg
import duckdb

from dagster_project.defs.jobs import JOB_NAME
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain.contract import EVENT_DATASETS
from dagster_project.domain.raw_files import list_files


def changed_months(raw_dir, warehouse) -> dict[str, str]:
    """Built months whose raw files differ from what was loaded -> fingerprint of the files now present."""
    if not warehouse.exists():
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loaded = con.execute("select strftime(month, '%Y-%m'), source_file, size_bytes, epoch_us(modified_at) "
                             "from audit.loaded_files").fetchall()
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()
    built: dict[str, set] = {}
    for month, rel, size, mtime in loaded:
        built.setdefault(month, set()).add((rel, size, mtime))
    out = {}
    for month, files in sorted(built.items()):
        now = {(f.rel, f.size, f.mtime_us) for ds in EVENT_DATASETS
               for f in list_files(raw_dir, ds, month)}
        if now != files:
            out[month] = hashlib.sha256(repr(sorted(now)).encode()).hexdigest()[:16]
    return out


@dg.sensor(
    job_name=JOB_NAME,  # the job of the definitions it is in (definitions.py), tagged with their warehouse
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

"""The progress record of the run this process executes: the one writer of what `fairuse status` shows of a run
(domain/status.py reads it from another process), whatever started the run.

One `RunProgress` per process and warehouse (`for_build_db`), fed from the job's own code path, so that a run
launched by the Dagster daemon or the UI (the schedule, the sensor, a backfill) keeps the same record as
`fairuse run`:
- defs/warehouse_lock.hold_warehouse, once a step holds the warehouse lock: the run and its month
  (`run_started`), then the run's Dagster events (steps starting and ending, the run ending);
- the dbt step (defs/assets/dbt.py): each dbt node starting and finishing (domain/dbt_runner.watch_nodes);
- `fairuse run` (cli/progress.Reporter) adds what only it knows: the months it builds one after the other, and
  what it does between them. It reads the same state for its heartbeat and status bar.

The record is `<build folder>/<warehouse>.build.progress.json` beside the lock: month, run id, current step and
steps done, dbt nodes done/total, the current node and since when, when the month started, when the record was
updated; when the run is over, when it ended and how (`ended`, `outcome`). Cheap and harmless by construction:
callers only change a dict in memory; a background thread writes the small JSON file, at once for a step, a month
or the run starting or ending, at most every WRITE_INTERVAL seconds for dbt nodes. A write that fails is logged
(once until one succeeds again), never raised: the record is a courtesy to `fairuse status`, never a reason to
stop a run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from dagster_project.domain import status

WRITE_INTERVAL = 2.0  # seconds between two writes for dbt nodes (steps, months, the run's end: at once)
MIN_GAP = 0.2  # seconds between any two writes

log = logging.getLogger(__name__)


class RunProgress:
    """The progress of the runs this process executes on one warehouse. Thread-safe."""

    def __init__(self, build_db: Path, interval: float = WRITE_INTERVAL):
        self.build_db, self.interval = build_db, interval
        self._lock = threading.RLock()
        self._io = threading.Lock()  # one write at a time (they share the temporary file's name)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {"pid": os.getpid()}
        self._dirty = self._urgent = False
        self._session = False  # `fairuse run` (several months) owns the record: a Dagster run's end is not its end
        self._last_write = 0.0
        self._failing = False
        self.writes = 0  # records written (tests read it)

    # -- state -------------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def update(self, urgent: bool = False, **fields: Any) -> None:
        """Change fields of the record; written within WRITE_INTERVAL seconds, or at once when `urgent`."""
        with self._lock:
            self._state.update(fields)
            self._dirty = True
            self._urgent = self._urgent or urgent
            if self._thread is None:
                self._thread = threading.Thread(target=self._writer, name="fairuse-progress-record", daemon=True)
                self._thread.start()
        if urgent:
            self._wake.set()

    def begin_session(self, months: list[str]) -> None:
        """`fairuse run` of `months`, one after the other, starts."""
        with self._lock:
            self._session = True
            self._state = {"pid": os.getpid(), "started": time.time(), "months": list(months),
                           "months_total": len(months), "months_done": 0, "phase": "starting"}
        self.update(urgent=True)

    def run_started(self, run_id: str, month: str, step: str | None = None) -> bool:
        """The Dagster run `run_id` of `month` holds the warehouse (its first step that writes is running). False
        when the record already follows that run."""
        now = time.time()
        with self._lock:
            s = self._state
            if s.get("run_id") == run_id:
                return False
            fresh = s.get("month") != month or not s.get("month_started") or s.get("ended")
            if not self._session:
                self._state = s = {"pid": os.getpid(), "started": now}
            s.update(run_id=run_id, month=month, phase="month", step=None, steps_done=0, dbt_done=0, dbt_total=0,
                     node=None, node_started=None, failed_step=None, ended=None, outcome=None)
            if fresh:
                s["month_started"] = now
        self.step_started(step)
        self.update(urgent=True)
        return True

    def step_started(self, step: str | None) -> None:
        with self._lock:
            if step is None or self._state.get("step") == step:
                return
            self.update(urgent=True, step=step, step_started=time.time(), node=None, node_started=None)

    def step_finished(self, step: str, success: bool) -> None:
        with self._lock:
            fields: dict[str, Any] = {"step": None, "node": None, "node_started": None}
            if success:
                fields["steps_done"] = self._state.get("steps_done", 0) + 1
            else:
                fields["failed_step"] = step
            self.update(urgent=True, **fields)

    def dbt_node(self, ev: Any) -> None:
        """A dbt node starting or finishing (domain/dbt_runner.NodeEvent: watch_nodes' callback)."""
        try:
            with self._lock:
                fields: dict[str, Any] = {"dbt_total": ev.total or self._state.get("dbt_total", 0)}
                if ev.kind == "start":
                    fields.update(node=f"{ev.resource_type} {ev.name}", node_started=time.time())
                else:
                    fields.update(dbt_done=self._state.get("dbt_done", 0) + 1, node=None, node_started=None)
                self.update(**fields)
        except Exception:  # never a reason to fail a dbt build
            log.warning("progress record: dbt node event not recorded", exc_info=True)

    def run_finished(self, outcome: str) -> None:
        """The Dagster run ended (`succeeded`, `failed`, `canceled`). Under `fairuse run`, its next month follows;
        otherwise the record says the run is over."""
        if self._session:
            self.update(urgent=True, step=None, node=None, node_started=None)
        else:
            self.finish(outcome)

    def finish(self, outcome: str) -> None:
        """The run is over: the record says when and how, written before this returns (the process may exit next);
        the writer thread stops (the next run of this process starts another)."""
        with self._lock:
            self._state.update(phase="ended", step=None, node=None, node_started=None, ended=time.time(),
                               outcome=outcome)
            self._session = False
            self._dirty, thread, self._thread = True, self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join(timeout=1.0)
        self._write()

    # -- writing -----------------------------------------------------------------------------------------------

    def _writer(self) -> None:
        me = threading.current_thread()
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                if self._thread is not me:
                    return
                due = self._dirty and (self._urgent or time.monotonic() - self._last_write >= self.interval)
            if due:
                self._write()
                time.sleep(MIN_GAP)

    def _write(self) -> None:
        with self._io:
            with self._lock:
                if not self._dirty:
                    return
                record = dict(self._state, updated=time.time())
                self._dirty = self._urgent = False
                self._last_write = time.monotonic()
            try:
                status.write_progress(self.build_db, record)
            except Exception as e:  # the record is a courtesy to `fairuse status`, never a reason to stop a run
                if not self._failing:
                    log.warning(f"progress record {status.progress_path(self.build_db)} not written: {e}")
                self._failing = True
                return
            self._failing = False
            self.writes += 1


_records: dict[Path, RunProgress] = {}
_registry = threading.Lock()


def for_build_db(build_db: Path) -> RunProgress:
    """This process's progress record of the warehouse whose build database is `build_db`."""
    with _registry:
        if build_db not in _records:
            _records[build_db] = RunProgress(build_db)
        return _records[build_db]

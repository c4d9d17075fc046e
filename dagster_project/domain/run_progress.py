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
a step, a month or the run starting or ending is written at once by the caller, before it goes on (a handful of
small files per month, so `fairuse status` never shows a step that has already ended); dbt nodes only change a
dict in memory, and a background thread writes it at most every WRITE_INTERVAL seconds. A write that fails is
logged (once until one succeeds again), never raised: the record is a courtesy to `fairuse status`, never a
reason to stop a run.
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

log = logging.getLogger(__name__)


class RunProgress:
    """The progress of the runs this process executes on one warehouse. Thread-safe."""

    def __init__(self, build_db: Path, interval: float = WRITE_INTERVAL):
        self.build_db, self.interval = build_db, interval
        self._lock = threading.RLock()  # the state; taken before `_io`, never after it
        self._io = threading.Lock()  # one write at a time (they share the temporary file's name)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # of the current writer thread
        self._state: dict[str, Any] = {"pid": os.getpid()}
        self._dirty = False
        self._version = self._written = 0  # of the state; of the last record on disk (an older one never overwrites it)
        self._session = False  # `fairuse run` (several months) owns the record: a Dagster run's end is not its end
        self._failing = False
        self.writes = 0  # records written (tests read it)

    # -- state -------------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def update(self, urgent: bool = False, **fields: Any) -> None:
        """Change fields of the record: written before this returns when `urgent`, else within WRITE_INTERVAL
        seconds by the writer thread."""
        with self._lock:
            self._state.update(fields)
            self._dirty = True
            self._version += 1
            if urgent:
                self._write()
            elif self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._writer, args=(self._stop,),
                                                name="fairuse-progress-record", daemon=True)
                self._thread.start()

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
            self._session = False
            thread, self._thread = self._thread, None
            self._stop.set()
            self.update(urgent=True, phase="ended", step=None, node=None, node_started=None, ended=time.time(),
                        outcome=outcome)
        if thread is not None:
            thread.join(timeout=1.0)

    # -- writing -----------------------------------------------------------------------------------------------

    def _writer(self, stop: threading.Event) -> None:
        """Writes what dbt nodes changed, every `interval` seconds, until `finish` sets `stop`."""
        while not stop.wait(self.interval):
            self._write()

    def _write(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            record, version = dict(self._state, updated=time.time()), self._version
            self._dirty = False
        with self._io:
            if version <= self._written:  # a newer record is already on disk
                return
            try:
                status.write_progress(self.build_db, record)
            except Exception as e:  # the record is a courtesy to `fairuse status`, never a reason to stop a run
                if not self._failing:
                    log.warning(f"progress record {status.progress_path(self.build_db)} not written: {e}")
                self._failing = True
                return
            self._written, self._failing = version, False
            self.writes += 1


_records: dict[Path, RunProgress] = {}
_registry = threading.Lock()


def for_build_db(build_db: Path) -> RunProgress:
    """This process's progress record of the warehouse whose build database is `build_db`."""
    with _registry:
        if build_db not in _records:
            _records[build_db] = RunProgress(build_db)
        return _records[build_db]

"""Live progress of `fairuse run`: what it is doing, as it does it.

Fed by two stock event streams of the run, both delivered in this process as things happen:
- Dagster's: the instance calls `dagster_event` with each event of the month's run (`add_event_listener` on the
  run id): a line per step when the step ends (its time and the assets it materialized);
- dbt's: `dbt_node` gets each node of the dbt build starting and finishing (dbtRunner's callbacks, through
  domain/dbt_runner.watch_nodes): a line per model when it finishes (and per test that does not pass).

Between lines, a heartbeat: when nothing was printed for `heartbeat` seconds (default 5), a line says what is
running (the step; during dbt, nodes done/total, the current node and for how long; the month's elapsed time), so
a long step is never silent for more than about `heartbeat` + 1 seconds, and a slow step reads differently from a
hung one.

Three displays:
- `plain` (output is not a terminal: a pipe, a log file): plain lines, no control characters;
- `rich` (a terminal): the same lines scrolling above a live status bar (month, step, dbt nodes done/total, the
  current node, elapsed), drawn by `rich`; no heartbeat lines (the bar moves);
- `quiet` (`--quiet`): nothing but what the caller prints itself (the summary, errors).

Whatever the display, the run's progress record is kept beside the warehouse lock, for `fairuse status` to show
from another process: by the same writer as any run launched by Dagster (domain/run_progress.py), which the job's
own steps feed (the month's steps, its dbt nodes); the Reporter adds the months it builds and what it does between
them, and reads that same state for its heartbeat and status bar.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from dagster_project.domain import run_progress

DEFAULT_HEARTBEAT = 5.0


def display_for(out: IO[str], quiet: bool = False) -> str:
    """`quiet`, `rich` on a terminal (not TERM=dumb), else `plain`."""
    if quiet:
        return "quiet"
    isatty = getattr(out, "isatty", None)
    return "rich" if isatty and isatty() and os.environ.get("TERM") != "dumb" else "plain"


def _secs(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{seconds:.0f}s"


class Reporter:
    """The progress of one `fairuse run` (several months, one after the other). Thread-safe: Dagster's and dbt's
    events come from the executing thread, the heartbeat from its own."""

    def __init__(self, out: IO[str], display: str = "plain", heartbeat: float = DEFAULT_HEARTBEAT):
        self.out, self.display, self.heartbeat = out, display, heartbeat
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None  # rich.progress.Progress on a terminal
        self._task: Any = None
        self.progress: run_progress.RunProgress | None = None  # the run's progress record (from `start`)
        self._last_line = time.monotonic()
        self.lines: list[tuple[float, str]] = []  # (monotonic time, line) of every line shown: tests read it
        self._month: str | None = None
        self._failed = False
        self._assets: dict[str, list[str]] = {}  # step key -> asset keys materialized
        self._step_started: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, build_db: Path, months: list[str]) -> None:
        """Begin reporting a run of `months` on the warehouse whose build database is `build_db`."""
        self.progress = run_progress.for_build_db(build_db)
        self.progress.begin_session(months)
        if self.display == "rich":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            # No stdout/stderr redirection: `fairuse run` points sys.stdout at the month's log file during a month.
            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[detail]}"),
                                 console=Console(file=self.out, highlight=False), transient=True,
                                 redirect_stdout=False, redirect_stderr=False)
            self._bar.start()
        self._thread = threading.Thread(target=self._tick, name="fairuse-progress", daemon=True)
        self._thread.start()
        self.line(f"{len(months)} month(s) to build: {', '.join(months)}")

    def close(self, outcome: str | None = None) -> None:
        """The run is over: the progress record says it ended (`outcome`: default `failed` if a month failed, else
        `succeeded`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self.progress is not None:
            self.progress.finish(outcome or ("failed" if self._failed else "succeeded"))
            self.progress = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(None if exc_type is None else "interrupted" if issubclass(exc_type, KeyboardInterrupt)
                   else "failed")

    # -- output ------------------------------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """Show one line (not in quiet)."""
        with self._lock:
            self._last_line = time.monotonic()
            if self.display == "quiet":
                return
            self.lines.append((self._last_line, text))
            if self._bar is not None:
                self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                print(text, file=self.out, flush=True)

    # -- what the run says ---------------------------------------------------------------------------------------

    def _update(self, urgent: bool = True, **fields: Any) -> None:
        if self.progress is not None:
            self.progress.update(urgent, **fields)

    def _snapshot(self) -> dict[str, Any]:
        return self.progress.snapshot() if self.progress is not None else {}

    def phase(self, text: str) -> None:
        """What the run does outside any month (e.g. loading the pipeline's definitions): the heartbeat says it."""
        self._update(phase=text)

    def month_started(self, month: str, log_file: Path, note: str = "") -> None:
        self._update(month=month, month_started=time.time(), phase="month", run_id=None, step=None, steps_done=0,
                     dbt_done=0, dbt_total=0, node=None, node_started=None, failed_step=None)
        with self._lock:
            self._month = month
            self._assets.clear()
            self._step_started.clear()
            if self._bar is not None:
                if self._task is not None:
                    self._bar.remove_task(self._task)
                self._task = self._bar.add_task(f"[{month}]", total=None, detail="starting")
        self.line(f"[{month}] building{note} ... (dbt's log: {log_file})")

    def month_finished(self, month: str, success: bool, seconds: float, done: str = "done") -> None:
        self._update(months_done=self._snapshot().get("months_done", 0) + 1, step=None, node=None,
                     phase="between months")
        self._failed = self._failed or not success
        if success:
            self.line(f"[{month}] {done} in {seconds:.1f}s")

    def dagster_event(self, entry: Any) -> None:
        """An event of the month's Dagster run (DagsterInstance.add_event_listener's callback): a line per step.
        (The run's own listener keeps the progress record: defs/warehouse_lock.py.)"""
        event = entry.get_dagster_event() if entry.is_dagster_event else None
        if event is None:
            return
        kind, step = event.event_type_value, event.step_key
        month = self._month
        if kind == "STEP_START":
            with self._lock:
                self._step_started[step] = time.monotonic()
        elif kind == "ASSET_MATERIALIZATION":
            self._assets.setdefault(step, []).append(event.asset_key.to_user_string())
        elif kind == "STEP_SUCCESS":
            secs = event.event_specific_data.duration_ms / 1000
            keys = self._assets.get(step, [])
            shown = ", ".join(keys[:4]) + (f" +{len(keys) - 4} more" if len(keys) > 4 else "")
            self.line(f"  [{month}] {step:<22} {secs:7.2f}s  {shown}")
        elif kind == "STEP_FAILURE":
            secs = time.monotonic() - self._step_started.get(step, time.monotonic())
            self.line(f"  [{month}] {step:<22} {secs:7.2f}s  FAILED")

    def dbt_node(self, ev: Any) -> None:
        """A dbt node starting or finishing (domain/dbt_runner.NodeEvent): a line per model. (The dbt step keeps the
        progress record's count: defs/assets/dbt.py.)"""
        month = self._month
        if ev.kind != "finish":
            return
        if ev.resource_type in ("model", "seed", "snapshot") or ev.status not in ("pass", "success", "skipped"):
            position = f"{ev.index}/{ev.total}" if ev.total else "-"
            self.line(f"  [{month}]   dbt {position:>9} {ev.resource_type} {ev.name:<40} {ev.seconds:7.2f}s  "
                      f"{ev.status}")

    # -- heartbeat, status bar -------------------------------------------------------------------

    def describe(self) -> str:
        """What is running now, in one line (the heartbeat's text, the status bar's detail)."""
        s = self._snapshot()
        now = time.time()
        if s.get("phase") != "month":
            return s.get("phase") or "starting"
        parts = [s.get("step") or "between steps"]
        if s.get("dbt_total"):
            parts.append(f"dbt {s.get('dbt_done', 0)}/{s['dbt_total']} nodes")
        if s.get("node"):
            parts.append(f"running {s['node']} for {_secs(now - s['node_started'])}")
        parts.append(f"month {_secs(now - s['month_started'])}")
        return ", ".join(parts)

    def _tick(self) -> None:
        tick = min(1.0, self.heartbeat / 4)
        while not self._stop.wait(tick):
            now = time.monotonic()
            if self._bar is not None and self._task is not None:
                with self._lock:
                    s = self._snapshot()
                    self._bar.update(self._task, detail=self.describe(), total=s.get("dbt_total") or None,
                                     completed=s.get("dbt_done", 0))
            elif self.display == "plain" and now - self._last_line >= self.heartbeat:
                s = self._snapshot()
                month = s.get("month") if s.get("phase") == "month" else None
                self.line(f"  [{month}] ... {self.describe()}" if month else f"  ... {self.describe()}")

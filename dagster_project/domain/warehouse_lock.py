"""One writer per warehouse, whoever starts it: the CLI, the schedule, the sensor or a backfill.

A run holds an exclusive `flock` on `<build folder>/<warehouse>.lock` for its whole duration. The kernel drops
the lock when the holding process ends, however it ends (SIGKILL included), so a lock can never be left behind:
what a killed holder leaves is only its description in the file, which the next run reads, reports and replaces.
Inside one process the lock is re-entrant: `fairuse run` takes it once for all its months, and the Dagster steps
it executes find it already held.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse; the message names it."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str  # ISO 8601 UTC
    months: list[str]
    command: str

    def describe(self) -> str:
        months = ", ".join(self.months) or "no month named"
        return f"PID {self.pid} on {self.host}, since {self.started_at} ({self.command}: {months})"


_held: dict[Path, list] = {}  # lock path -> [fd, depth], for the locks this process holds


def lock_path(build_db: Path) -> Path:
    return build_db.with_suffix(".lock")


def read_holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def acquire(build_db: Path, months: list[str], command: str, *, wait: bool = True, timeout: float = 3600.0,
            poll: float = 0.5, on_wait: Callable[[Holder | None], None] | None = None) -> str | None:
    """Take the warehouse lock (or deepen this process's hold). Without `wait`, or past `timeout` seconds,
    raise WarehouseBusy naming the holder. Returns a note when the previous holder died without releasing."""
    path = lock_path(build_db)
    if path in _held:
        _held[path][1] += 1
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = read_holder(path)
            if not wait or time.monotonic() >= deadline:
                os.close(fd)
                who = holder.describe() if holder else "another process"
                hint = ("try again when it has finished" if not wait
                        else f"gave up after {timeout:.0f}s; try again later or raise --lock-timeout")
                raise WarehouseBusy(f"the warehouse is being built by {who}; {hint}") from None
            if on_wait and not announced:
                on_wait(holder)
                announced = True
            time.sleep(poll)
    previous = read_holder(path)  # a clean release empties the file: a description left means the holder died
    note = f"took over the lock left by {previous.describe()}, which ended without releasing it" if previous else None
    me = Holder(os.getpid(), socket.gethostname(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                list(months), command)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
    os.fsync(fd)
    _held[path] = [fd, 1]
    return note


def release(build_db: Path) -> None:
    """Undo one `acquire` of this process; the last one clears the description and unlocks."""
    path = lock_path(build_db)
    entry = _held.get(path)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] > 0:
        return
    del _held[path]
    fd = entry[0]
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def held_by_this_process(build_db: Path) -> bool:
    return lock_path(build_db) in _held

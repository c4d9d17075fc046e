"""One writer per warehouse: the lock's rules, across real processes (fast tier: no pipeline run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dagster_project.domain import warehouse_lock as wl

HOLD = """
import sys, time
from pathlib import Path
from dagster_project.domain import warehouse_lock as wl
wl.acquire(Path(sys.argv[1]), ["2026-01", "2026-02"], "fairuse run")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
wl.release(Path(sys.argv[1]))
"""


def _holder(db, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_no_wait_is_refused_naming_the_holder(tmp_path):
    db = tmp_path / "build" / "w.build.duckdb"
    proc = _holder(db, 30)
    try:
        with pytest.raises(wl.WarehouseBusy) as err:
            wl.acquire(db, ["2026-03"], "fairuse run", wait=False)
        msg = str(err.value)
        assert f"PID {proc.pid}" in msg and "2026-01, 2026-02" in msg and "fairuse run" in msg
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_waits_then_gets_the_lock(tmp_path):
    db = tmp_path / "build" / "w.build.duckdb"
    proc = _holder(db, 1.5)
    waited = []
    t0 = time.monotonic()
    wl.acquire(db, ["2026-03"], "test", timeout=30, poll=0.05, on_wait=waited.append)
    try:
        assert time.monotonic() - t0 >= 0.5
        assert waited and waited[0].pid == proc.pid
        assert wl.read_holder(wl.lock_path(db)).pid == os.getpid()
    finally:
        wl.release(db)
        proc.wait()
    assert wl.read_holder(wl.lock_path(db)) is None  # released cleanly: nothing left behind


def test_timeout_gives_up_with_the_holder(tmp_path):
    db = tmp_path / "w.build.duckdb"
    proc = _holder(db, 30)
    try:
        with pytest.raises(wl.WarehouseBusy, match="gave up after 0s"):
            wl.acquire(db, [], "test", timeout=0.3, poll=0.05)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_leaves_no_lock_and_is_reported(tmp_path):
    db = tmp_path / "w.build.duckdb"
    proc = _holder(db, 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    note = wl.acquire(db, ["2026-04"], "test", wait=False)
    try:
        assert note and f"PID {proc.pid}" in note and "without releasing" in note
    finally:
        wl.release(db)


def test_reentrant_within_a_process_and_owner_only(tmp_path):
    db = tmp_path / "w.build.duckdb"
    wl.acquire(db, ["2026-01"], "outer")
    wl.acquire(db, ["2026-01"], "inner step")
    wl.release(db)
    assert wl.held_by_this_process(db)
    assert wl.read_holder(wl.lock_path(db)).command == "outer"
    wl.release(db)
    assert not wl.held_by_this_process(db)
    assert oct(wl.lock_path(db).stat().st_mode & 0o777) == oct(0o600)

"""The end of the `fairuse` command (cli/main.py `entry`): out of the process without the interpreter's teardown,
unless another non-daemon thread is still running, which then finishes its work as in a normal exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _entry_with_a_thread(tmp_path, daemon: bool) -> tuple[int, bool]:
    done = tmp_path / "thread-finished"
    code = textwrap.dedent(f"""
        import sys, threading, time
        from pathlib import Path
        import dagster_project.private_apis  # as a command that loaded the definitions: no teardown
        from dagster_project.cli import main

        def late_work():
            time.sleep(0.5)
            Path({str(done)!r}).write_text("done")

        sys.argv = ["fairuse", "sql", "--list"]
        threading.Thread(target=late_work, daemon={daemon}).start()
        main.entry()
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return proc.returncode, done.exists()


def test_a_running_non_daemon_thread_gets_a_normal_exit(tmp_path):
    assert _entry_with_a_thread(tmp_path, daemon=False) == (0, True)


def test_otherwise_the_process_ends_at_once(tmp_path):
    assert _entry_with_a_thread(tmp_path, daemon=True) == (0, False)  # a daemon thread: not waited for

"""The `fairuse` command line (CONTRACT §5): generate | run | status | simulate | watch | policy check | evaluate |
sql.

Every error is one line saying what is wrong and what to do (`--debug` for the traceback)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback

from dagster_project.cli.args import build_parser
from dagster_project.domain import gc_tuning
from dagster_project.domain.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print(f"fairuse {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the one place that turns any error into one line
        if args.debug:
            traceback.print_exc()
        print(f"fairuse {args.command}: {_one_line(e)}", file=sys.stderr)
        return 2 if _is_users_error(e) else 1


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split()) or e.__class__.__name__
    return text if len(text) <= 400 else text[:400] + " ... (--debug for all of it)"


def _is_users_error(e: Exception) -> bool:
    """Errors the person can fix by what they typed or pointed at (exit 2); the rest are failures (exit 1)."""
    from dagster_project.domain.engine import EngineUnavailable
    from dagster_project.domain.locations import LocationError
    from dagster_project.domain.policy import PolicyError
    from dagster_project.domain.settings import SettingsError
    from dagster_project.domain.warehouse_lock import WarehouseBusy
    from dagster_project.domain.watch import WatchError

    return isinstance(e, PolicyError | WarehouseBusy | FileNotFoundError | SettingsError | EngineUnavailable
                          | LocationError | WatchError)


def _dispatch(args) -> int:
    if args.command == "generate":
        from dagster_project.tools.generate import generate

        report = generate(out=args.out, users=args.users, months=args.months, seed=args.seed,
                          calls_per_user=args.calls_per_user)
        print(report)
        return 0
    if args.command == "run":
        from dagster_project.cli.run import check_policy_history, default_months, run_months, summary
        from dagster_project.domain.engine import check_available
        from dagster_project.domain.locations import Folder
        from dagster_project.domain.policy import load_policy

        settings = get_settings(args.raw_dir, args.warehouse, args.exports_dir, args.policy, engine=args.engine,
                                lock_timeout=args.lock_timeout)
        configured = load_policy(settings.policy_file)  # validated before any work: nothing built, nothing created
        check_available(settings)  # the Spark engine without Java or its extra: one line, before any work
        if args.accept_incomplete and not args.month:
            print("fairuse run: --accept-incomplete needs the months it accepts (--month YYYY-MM)", file=sys.stderr)
            return 2
        if args.restate_under and not args.month:
            print("fairuse run: --restate-under needs the months it restates (--month YYYY-MM)", file=sys.stderr)
            return 2
        Folder(settings.raw_dir).check()  # a raw or exports bucket that cannot be used: one line, before any work
        Folder(settings.exports_dir).check()
        months = args.month or default_months(settings)
        # The configured version against the history (a reused name, a missing effective_from), and the version
        # restated under: one line, before any work.
        check_policy_history(settings, configured, months, args.restate_under)
        if not months:
            print(f"fairuse run: no month folders under {settings.raw_dir}; generate sample data with "
                  f"`fairuse generate` or point --raw-dir at the raw folder", file=sys.stderr)
            return 2
        from dagster_project.cli.progress import Reporter, display_for

        reporter = Reporter(sys.stdout, display_for(sys.stdout, args.quiet), heartbeat=args.heartbeat)
        outcomes = run_months(settings, months, wait=not args.no_wait, accept_incomplete=args.accept_incomplete,
                             reporter=reporter, restate_under=args.restate_under)
        print(summary(settings, outcomes))
        failed = [o for o in outcomes if not o.success]
        if failed:
            print(f"fairuse run: month {failed[0].month} failed: {failed[0].error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "status":
        import json

        from dagster_project.domain.status import collect, render_table

        found = collect(get_settings(args.raw_dir, args.warehouse, args.exports_dir))
        print(json.dumps(found, indent=1) if args.format == "json" else render_table(found))
        return 0
    if args.command == "simulate":
        from dagster_project.domain.simulate import simulate_cli

        return simulate_cli(args)
    if args.command == "watch":
        import datetime as dt

        from dagster_project.domain.policy import load_policy
        from dagster_project.domain.watch import backtest, format_backtest, format_watch, run_watch

        settings = get_settings(args.raw_dir, args.warehouse, None, args.policy)
        load_policy(settings.policy_file)  # validated before any work, as `fairuse run` does
        if args.backtest:
            print(format_backtest(backtest(settings, [args.month] if args.month else None)))
            return 0
        month = args.month or dt.datetime.now(dt.UTC).strftime("%Y-%m")
        print(format_watch(run_watch(settings, month, args.as_of)))
        return 0
    if args.command == "policy":
        from dagster_project.domain.policy import describe, load_policy

        path = args.file or get_settings().policy_file
        print(describe(load_policy(path), path))
        return 0
    if args.command == "evaluate":
        from dagster_project.domain.evaluate import evaluate_cli

        return evaluate_cli(args)
    if args.command == "sql":
        from dagster_project.analyst.sql import run as sql_run

        return sql_run(args)
    return 2


def _other_threads_alive() -> bool:
    """Whether a thread other than this one that the interpreter would wait for at exit is still running."""
    return any(t is not threading.current_thread() and t.is_alive() and not t.daemon for t in threading.enumerate())


def entry() -> None:
    """The `fairuse` command: `main`, then out of the process without the interpreter's teardown.

    Tearing down the modules a run imports (Dagster, dbt, DuckDB, pyarrow) takes ~0.9 s of every invocation
    and does nothing the process needs: the exit handlers still run (log handlers flushed, multiprocessing's
    semaphores released, temporary folders removed), the standard streams are flushed, then the process ends.
    Every file and database the command wrote was closed by the code that wrote it (DuckDB files checkpointed
    or their WAL replayed on the next open; the run history committed). A normal exit instead when another
    non-daemon thread is still alive (the interpreter would wait for it), a profiler, debugger or coverage
    is attached (they write their results at teardown), or the command never loaded the Dagster definitions (a light
    command: nothing heavy to tear down). Running the exit handlers early needs a private CPython function,
    behind dagster_project/private_apis.py.

    Before anything heavy is imported, the garbage collector is tuned for a short batch process
    (domain/gc_tuning.py: ~0.6 s of a demo month's collections)."""
    gc_tuning.for_building_months()
    code = main()
    loaded_dagster = "dagster_project.private_apis" in sys.modules  # the definitions' imports (Dagster, dbt)
    if not loaded_dagster or sys.getprofile() is not None or sys.gettrace() is not None or _other_threads_alive():
        sys.exit(code)  # a light command (nothing heavy to tear down), or something the interpreter must wait for
    from dagster_project.private_apis import run_exit_handlers

    run_exit_handlers()  # what Py_Finalize would run first: atexit callbacks, weakref finalizers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

"""The `fairuse` command line (CONTRACT §5): generate | run | simulate | evaluate."""

from __future__ import annotations

import sys

from dagster_project.cli.args import build_parser
from dagster_project.domain.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        from dagster_project.tools.generate import generate

        report = generate(out=args.out, users=args.users, months=args.months, seed=args.seed,
                          calls_per_user=args.calls_per_user)
        print(report)
        return 0
    if args.command == "run":
        from dagster_project.cli.run import default_months, run_months, summary

        settings = get_settings(args.raw_dir, args.warehouse, args.exports_dir, args.policy)
        months = args.month or default_months(settings)
        if not months:
            print(f"fairuse run: no month folders under {settings.raw_dir}", file=sys.stderr)
            return 2
        outcomes = run_months(settings, months)
        print(summary(settings, outcomes))
        failed = [o for o in outcomes if not o.success]
        if failed:
            print(f"fairuse run: month {failed[0].month} failed: {failed[0].error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "simulate":
        from dagster_project.domain.simulate import simulate_cli

        return simulate_cli(args)
    if args.command == "evaluate":
        from dagster_project.domain.evaluate import evaluate_cli

        return evaluate_cli(args)
    if args.command == "sql":
        from dagster_project.analyst.sql import run as sql_run

        return sql_run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

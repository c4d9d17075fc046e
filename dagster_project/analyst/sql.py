"""`fairuse sql`: the analysts' front door to the published warehouse, always opened read-only.

- `fairuse sql`: Harlequin (the terminal SQL IDE for DuckDB, the `sql` extra) on the warehouse, with --read-only.
- `fairuse sql -c SQL` / `--query NAME [--param NAME=VALUE]...`: one query, printed as a table or written as
  CSV, JSON or Parquet (`--format`, `--output`). SQL piped on stdin is run the same way.
- `fairuse sql --list`: the named queries, `queries/*.sql` (the first `-- ` line describes the query; `$name`
  is a parameter, bound as a DuckDB prepared parameter, never pasted into the SQL).

The pipeline publishes by renaming a new file over the warehouse path and a connection keeps the file it opened,
so a read-only connection never blocks a run and never sees a half-built month.

Errors are one line on stderr: exit 2 for what was typed (unknown query, missing parameter, bad option),
exit 1 for the warehouse or the query (no warehouse, month not built, DuckDB's error, a write refused).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import importlib.util
import io
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dagster_project.domain.settings import get_settings

QUERIES_DIR = Path(__file__).with_name("queries")
FORMATS = ("table", "csv", "json", "parquet")
DEFAULT_MAX_ROWS = 100
BUILD_HINT = "build one with `make demo` (sample data) or `fairuse run`"
SHELL_HINT = ("the interactive shell is Harlequin, which is not installed here: run `make sql` "
              "(or `.venv/bin/pip install -e '.[sql]'`); one-off queries work without it: fairuse sql -c 'select ...'")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What cannot hold a parameter: comments, string literals, quoted identifiers, dollar-quoted strings.
_NOT_CODE = re.compile(r"""--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\w*)\$.*?\$\1\$""", re.S)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-01)?")
_READ_ONLY = re.compile(r'statement of type "(\w+)" on database "[^"]*" which is attached in read-only mode')
_LINE = re.compile(r"LINE (\d+): (.*)")
# Errors DuckDB gives without a position, but naming what it could not find.
_NAMED = [re.compile(p) for p in (r'Referenced column "([^"]+)" not found', r'Referenced table "([^"]+)" not found',
                                  r"Table with name (\S+) does not exist", r"Schema with name (\S+) does not exist",
                                  r"Function with name (\S+) does not exist")]


class SqlError(Exception):
    """A message for the analyst (one line) and the exit code: 2 for what was typed, 1 for the rest."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- arguments -------------------------------------------------------------------------------------------------

def parse_param(value: str) -> tuple[str, str]:
    """'user_id=u-000149' -> ('user_id', 'u-000149')."""
    name, sep, val = value.partition("=")
    name = name.strip().lstrip("$")
    if not sep or not _NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE: {value!r}")
    return name, val


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.description = ("SQL on the published warehouse, read-only. Without a query: the Harlequin SQL IDE (catalog, "
                     "completion, results grid, export; needs `make sql`). With -c or --query: one query, "
                     "printed or written to a file.")
    p.epilog = ("examples: fairuse sql | fairuse sql -c \"select * from marts.fct_account_enforcement\" | "
                "fairuse sql --query am_i_over --param user_id=u-000149 --param month=2026-10 | fairuse sql --list")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-c", "--command", dest="sql_command", metavar="SQL", help="run one query and exit")
    mode.add_argument("-q", "--query", dest="named_query", metavar="NAME", help="run a named query (see --list)")
    mode.add_argument("--list", dest="list_queries", action="store_true",
                      help="list the named queries with their parameters")
    p.add_argument("-p", "--param", dest="params", type=parse_param, action="append", default=[],
                   metavar="NAME=VALUE", help="value of $NAME in the query (repeatable); months as YYYY-MM")
    p.add_argument("--format", dest="output_format", choices=FORMATS,
                   help="table (default), csv, json (an array of objects) or parquet (needs --output); "
                        "default: from the --output file's extension")
    p.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of the terminal")
    p.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS, metavar="N",
                   help=f"rows shown in a table (default {DEFAULT_MAX_ROWS}; 0 = all)")
    p.add_argument("--warehouse", metavar="PATH", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")


# --- named queries and parameters ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str

    @property
    def params(self) -> list[str]:
        return query_params(self.sql)


def named_queries() -> dict[str, NamedQuery]:
    out = {}
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        first = sql.lstrip().splitlines()[0] if sql.strip() else ""
        out[path.stem] = NamedQuery(path.stem, first[2:].strip() if first.startswith("--") else "", sql)
    return out


def load_query(name: str) -> NamedQuery:
    queries = named_queries()
    if name not in queries:
        close = difflib.get_close_matches(name, list(queries), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SqlError(f"no named query {name!r}; {hint}known: {', '.join(queries)} (fairuse sql --list)", 2)
    return queries[name]


def _mask(sql: str) -> str:
    """The SQL with comments, literals and quoted names blanked out (same length, so offsets still hold)."""
    return _NOT_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), sql)


def query_params(sql: str) -> list[str]:
    """Named parameters ($name) of a query, in order of first use."""
    return list(dict.fromkeys(_PARAM.findall(_mask(sql))))


def is_month_param(name: str) -> bool:
    return name == "month" or name.endswith("_month")


def parse_month_value(name: str, value: str) -> dt.date:
    """'2026-10' (or '2026-10-01') -> date(2026, 10, 1): a month is stored as its first day."""
    m = _MONTH.fullmatch(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise SqlError(f"--param {name}={value}: not a month (YYYY-MM)", 2)
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def _placeholder(name: str) -> str:
    return f"{name}=YYYY-MM" if is_month_param(name) else f"{name}=VALUE"


def bind_params(names: list[str], given: dict[str, str], label: str) -> dict[str, object]:
    """Values for a query's parameters: every one given, none unknown; months become the month's first day."""
    unknown = [n for n in given if n not in names]
    if unknown:
        its = f"its parameters: {', '.join(names)}" if names else "it has none"
        raise SqlError(f"{label} has no parameter {unknown[0]!r} ({its})", 2)
    missing = [n for n in names if n not in given]
    if missing:
        raise SqlError(f"{label} needs " + " ".join(f"--param {_placeholder(n)}" for n in missing), 2)
    return {n: parse_month_value(n, given[n]) if is_month_param(n) else given[n] for n in names}


def format_list(queries: dict[str, NamedQuery]) -> str:
    width = max((len(n) for n in queries), default=0) + 2
    lines = ["Named queries: fairuse sql --query NAME [--param NAME=VALUE]...", ""]
    for q in queries.values():
        lines.append(f"{q.name:<{width}}{q.description}")
        params = " ".join(f"--param {_placeholder(n)}" for n in q.params) or "(no parameters)"
        lines.append(f"{'':<{width}}{params}")
    return "\n".join(lines)


# --- the warehouse ---------------------------------------------------------------------------------------------

def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def connect(warehouse: Path):
    """A read-only connection to the published file, or a one-line SqlError."""
    import duckdb

    if not warehouse.is_file():
        raise SqlError(f"no warehouse at {_shown(warehouse)} yet: {BUILD_HINT}", 1)
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as e:
        raise SqlError(f"cannot open the warehouse {_shown(warehouse)}: {_one_line(str(e))}", 1) from None


def built_months(con) -> list[dt.date]:
    import duckdb

    try:
        rows = con.execute("select distinct month from marts.fct_user_monthly_usage order by month").fetchall()
    except duckdb.CatalogException:
        return []
    return [r[0] for r in rows if r[0] is not None]


def watched_months(con) -> list[dt.date]:
    """Open months with a provisional watch (`fairuse watch`) in the warehouse."""
    import duckdb

    try:
        rows = con.execute("select distinct month from marts.fct_month_to_date_watch order by month").fetchall()
    except duckdb.CatalogException:
        return []
    return [r[0] for r in rows if r[0] is not None]


def check_months_built(con, values: dict[str, object], warehouse: Path, sql: str = "") -> None:
    wanted = [v for n, v in values.items() if is_month_param(n) and isinstance(v, dt.date)]
    if not wanted:
        return
    watch = "fct_month_to_date_watch" in sql  # a query of the provisional watch asks about open months
    built = watched_months(con) if watch else built_months(con)
    for month in wanted:
        if month not in built:
            have = ", ".join(f"{m:%Y-%m}" for m in built) or "none yet"
            if watch:
                raise SqlError(f"month {month:%Y-%m} has no watch in {_shown(warehouse)} (watched: {have}); "
                               f"run `fairuse watch --month {month:%Y-%m}`", 1)
            raise SqlError(f"month {month:%Y-%m} is not built in {_shown(warehouse)} (built: {have}); "
                           f"build it with `fairuse run --month {month:%Y-%m}`", 1)


# --- errors ----------------------------------------------------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _line_col(sql: str, offset: int) -> tuple[int, int]:
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1


def _position(text: str, sql: str) -> tuple[str, tuple[int, int] | None]:
    """DuckDB's message without its LINE/caret display, and the (line, column) in `sql` it points at, if any."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _LINE.match(line)
        if not m:
            continue
        message = _one_line("\n".join(lines[:i]))
        n, snippet = int(m.group(1)), m.group(2)
        caret_line = lines[i + 1] if i + 1 < len(lines) else ""
        if "^" not in caret_line:
            return message, None
        k = caret_line.index("^") - len(m.group(0)) + len(snippet)
        core, lead = snippet, 0
        if core.startswith("..."):
            core, lead = core[3:], 3
        core = core.removesuffix("...")
        src = sql.splitlines()
        if 1 <= n <= len(src) and core in src[n - 1]:  # DuckDB's line numbers hold when nothing was prepended
            return message, (n, src[n - 1].index(core) + k - lead + 1)
        start = sql.find(core)
        if start >= 0:
            return message, _line_col(sql, start + k - lead)
        return message, None
    message = _one_line(text)
    for pattern in _NAMED:
        m = pattern.search(text)
        if m:
            name = m.group(1).split(".")[-1]
            hit = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", _mask(sql), re.I)
            if hit:
                return message, _line_col(sql, hit.start())
    return message, None


def describe_error(error: Exception, sql: str) -> str:
    text = str(error)
    m = _READ_ONLY.search(text)
    if m:
        return (f"the warehouse is read-only ({m.group(1)} refused): fairuse sql only reads it, the pipeline "
                "(`fairuse run`) writes it; for scratch work use `create temp table ...`")
    message, pos = _position(text, sql)
    return f"query error: {message}" + (f" (line {pos[0]}, column {pos[1]})" if pos else "")


# --- running a query -------------------------------------------------------------------------------------------

def output_format(fmt: str | None, output: str | None) -> str:
    if fmt is None:
        suffix = Path(output).suffix.lower().lstrip(".") if output else ""
        fmt = {"csv": "csv", "json": "json", "parquet": "parquet", "pq": "parquet"}.get(suffix, "table")
    if fmt == "parquet" and not output:
        raise SqlError("--format parquet needs --output FILE", 2)
    return fmt


def _table_width(to_file: bool) -> int:
    """A terminal's width; piped or written to a file, nothing is cut (COLUMNS, if set, still wins)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if not to_file and sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return 1_000_000


def _render_table(rel, max_rows: int, width: int) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rel.show(max_rows=max_rows if max_rows > 0 else 2**62, max_width=width)
    return buf.getvalue()


def _copy(con, table, fmt: str, path: Path) -> None:
    options = {"csv": "format csv, header true", "json": "format json, array true", "parquet": "format parquet"}
    con.register("fairuse_sql_result", table)
    try:
        con.execute(f"copy fairuse_sql_result to $path ({options[fmt]})", {"path": str(path)})
    finally:
        con.unregister("fairuse_sql_result")


def write_result(con, rel, sql: str, fmt: str, output: str | None, max_rows: int) -> None:
    import duckdb

    if fmt == "table":
        try:
            text = _render_table(rel, max_rows, _table_width(bool(output)))
        except duckdb.Error as e:
            raise SqlError(describe_error(e, sql), 1) from None
        if output:
            Path(output).write_text(text, encoding="utf-8")
            print(f"wrote the table to {output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return
    try:
        table = rel.to_arrow_table()
    except duckdb.Error as e:
        raise SqlError(describe_error(e, sql), 1) from None
    try:
        if output:
            _copy(con, table, fmt, Path(output))
            rows = "1 row" if table.num_rows == 1 else f"{table.num_rows} rows"
            print(f"wrote {rows} to {output} ({fmt})", file=sys.stderr)
        else:
            with tempfile.TemporaryDirectory(prefix="fairuse-sql-") as tmp:
                path = Path(tmp) / f"result.{fmt}"
                _copy(con, table, fmt, path)
                sys.stdout.write(path.read_text(encoding="utf-8"))
    except (duckdb.Error, OSError) as e:
        raise SqlError(f"could not write {output or 'the result'}: {_one_line(str(e))}", 1) from None


def run_query(warehouse: Path, sql: str, params: dict[str, str], *, named: NamedQuery | None = None,
              fmt: str = "table", output: str | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> None:
    import duckdb

    label = f"query {named.name}" if named else "the query"
    values = bind_params(query_params(sql), params, label)
    con = connect(warehouse)
    try:
        if named is not None:
            check_months_built(con, values, warehouse, sql)
        try:
            rel = con.sql(sql, params=values or None)
        except duckdb.Error as e:
            raise SqlError(describe_error(e, sql), 1) from None
        if rel is not None:
            write_result(con, rel, sql, fmt, output, max_rows)
    finally:
        con.close()


# --- the interactive shell -------------------------------------------------------------------------------------

def _c_locale() -> bool:
    """Whether numbers are formatted by the C (POSIX) locale, as in most containers."""
    for var in ("LC_ALL", "LC_NUMERIC", "LANG"):
        if os.environ.get(var):
            return os.environ[var].split(".")[0] in ("C", "POSIX")
    return True


def shell_command(warehouse: Path) -> list[str]:
    """Harlequin with this interpreter (so the pipeline's DuckDB), its DuckDB adapter, read-only."""
    argv = [sys.executable, "-m", "harlequin", "--adapter", "duckdb", "--read-only"]
    if _c_locale():  # what Harlequin would use anyway, said explicitly: no "locale not set" notice on every exit
        argv += ["--locale", "C"]
    return [*argv, str(warehouse)]


def harlequin_installed() -> bool:
    return importlib.util.find_spec("harlequin") is not None


def open_shell(warehouse: Path) -> int:
    connect(warehouse).close()  # the one-line errors (no warehouse, not a DuckDB file) before the IDE starts
    if not harlequin_installed():
        raise SqlError(SHELL_HINT, 1)
    argv = shell_command(warehouse)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 0  # not reached


# --- entry point -----------------------------------------------------------------------------------------------

def _stdin_sql() -> str | None:
    stdin = sys.stdin
    try:
        if stdin is None or stdin.isatty():
            return None
        text = stdin.read()
    except (OSError, ValueError):
        return None
    return text if text.strip() else None


def _run(args: argparse.Namespace) -> int:
    if args.list_queries:
        print(format_list(named_queries()))
        return 0
    warehouse = get_settings(warehouse=args.warehouse).warehouse
    params = dict(args.params or [])
    named = None
    if args.named_query is not None:
        named = load_query(args.named_query)
        sql = named.sql
    elif args.sql_command is not None:
        sql = args.sql_command
    else:
        sql = _stdin_sql()
        if sql is None:
            if params or args.output or args.output_format:
                raise SqlError("--param, --format and --output go with -c SQL or --query NAME", 2)
            return open_shell(warehouse)
    fmt = output_format(args.output_format, args.output)
    run_query(warehouse, sql, params, named=named, fmt=fmt, output=args.output, max_rows=args.max_rows)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SqlError as e:
        print(f"fairuse sql: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("fairuse sql: interrupted", file=sys.stderr)
        return 130

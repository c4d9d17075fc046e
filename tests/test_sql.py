"""`fairuse sql`: the analysts' SQL shell and one-off queries on the published warehouse, read-only.

Fast tests run the command in process on a small hand-made warehouse; the `slow` ones run every named query on a
warehouse built by the real pipeline, and drive the interactive shell (Harlequin) under tmux as a person would.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import duckdb
import pytest

from dagster_project.analyst import sql
from dagster_project.cli.args import build_parser
from dagster_project.cli.main import main
from tests.conftest import REPO

MONTHS = ["2026-01", "2026-02"]


def _make_warehouse(path: Path, *, enforcement: bool = True) -> Path:
    """A published warehouse in miniature: the tables the fast tests query, two months built."""
    con = duckdb.connect(str(path))
    con.execute("""
        create schema marts;
        create schema audit;
        create table marts.fct_user_monthly_usage (month date, user_id varchar, account_id varchar);
        insert into marts.fct_user_monthly_usage values
            ('2026-01-01', 'u-1', 'acc-1'), ('2026-02-01', 'u-1', 'acc-1'), ('2026-02-01', 'u-2', 'acc-2');
        create table marts.fct_account_enforcement (month date, account_id varchar, flagged_users integer,
            consecutive_months integer, action varchar, excess_charge_amount decimal(18, 2), currency varchar);
        create table audit.load_balance (month date, dataset varchar, rows_read bigint, rows_counted bigint,
            rows_quarantined bigint, duplicates_dropped bigint);
        insert into audit.load_balance values ('2026-02-01', 'calls', 10, 8, 1, 1);
    """)
    if enforcement:
        con.execute("""
            insert into marts.fct_account_enforcement values
                ('2026-01-01', 'acc-1', 1, 1, 'ask_to_moderate', 0, 'USD'),
                ('2026-02-01', 'acc-1', 1, 2, 'require_excess_payment', 12.50, 'USD'),
                ('2026-02-01', 'acc-2', 2, 1, 'ask_to_moderate', 0, 'EUR');
        """)
    con.close()
    return path


@pytest.fixture
def tiny(tmp_path) -> Path:
    return _make_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)


def _sql(capsys, warehouse: Path, *args: str) -> tuple[int, str, str]:
    code = main(["sql", "--warehouse", str(warehouse), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- arguments, parameters, the named queries ------------------------------------------------------------------

def test_sql_subcommand_arguments():
    args = build_parser().parse_args(["sql", "--query", "am_i_over", "--param", "user_id=u-000149",
                                      "-p", "month=2026-10", "--format", "csv", "-o", "out.csv"])
    assert (args.command, args.named_query, args.params) == ("sql", "am_i_over",
                                                            [("user_id", "u-000149"), ("month", "2026-10")])
    assert (args.output_format, args.output, args.sql_command, args.list_queries) == ("csv", "out.csv", None, False)
    args = build_parser().parse_args(["sql"])
    assert (args.command, args.sql_command, args.named_query, args.params) == ("sql", None, None, [])
    for bad in (["sql", "-c", "select 1", "--query", "am_i_over"], ["sql", "--param", "no-equals-sign"],
                ["sql", "--format", "xlsx"]):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args(bad)
        assert e.value.code == 2


def test_query_params_skip_comments_literals_and_quoted_names():
    text = """-- $not_a_param in a comment
    select '$nor_in_a_string', "$nor_a_column", $$ $nor_dollar_quoted $$ /* $nor_here */
    from t where a = $first and b = $second and c = $first"""
    assert sql.query_params(text) == ["first", "second"]


def test_named_queries_describe_themselves():
    queries = sql.named_queries()
    assert {name: q.params for name, q in queries.items()} == {
        "accounts_on_ladder": ["month"],
        "am_i_over": ["user_id", "month"],
        "on_track": ["month"],
        "prohibited_use": ["month"],
        "was_anything_lost": [],
    }
    assert all(q.description and not q.description.startswith("-") for q in queries.values())


def test_parameters_are_checked_and_months_are_first_days():
    assert sql.bind_params(["user_id", "month"], {"month": "2026-10", "user_id": "u-1"}, "q") == {
        "user_id": "u-1", "month": dt.date(2026, 10, 1)}
    assert sql.bind_params(["from_month"], {"from_month": "2026-10-01"}, "q") == {"from_month": dt.date(2026, 10, 1)}
    for names, given, message in [
        (["user_id", "month"], {"month": "2026-10"}, "q needs --param user_id=VALUE"),
        (["month"], {}, "q needs --param month=YYYY-MM"),
        ([], {"month": "2026-10"}, "q has no parameter 'month' (it has none)"),
        (["month"], {"month": "2026-13"}, "--param month=2026-13: not a month (YYYY-MM)"),
        (["month"], {"month": "2026-10-15"}, "not a month"),
    ]:
        with pytest.raises(sql.SqlError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
            sql.bind_params(names, given, "q")
        assert e.value.code == 2


def test_list_names_every_query_with_its_parameters(capsys, tmp_path):
    code, out, err = _sql(capsys, tmp_path / "no-warehouse-needed.duckdb", "--list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    for name, q in sql.named_queries().items():
        row = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
        assert q.description in lines[row]
        assert lines[row + 1].split() == ([w for p in q.params for w in ("--param", sql._placeholder(p))]
                                          or ["(no", "parameters)"])
    assert "--param user_id=VALUE --param month=YYYY-MM" in out


def test_sql_files_are_package_data_and_the_shell_is_a_pinned_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "queries/*.sql" in project["tool"]["setuptools"]["package-data"]["dagster_project.analyst"]
    (pin,) = [r for r in project["project"]["optional-dependencies"]["sql"] if r.startswith("harlequin")]
    assert pin.startswith("harlequin==")
    if sql.harlequin_installed():
        assert importlib.metadata.version("harlequin") == pin.split("==")[1]


# --- one-off queries on a small warehouse ----------------------------------------------------------------------

def test_one_off_query_prints_a_table(capsys, tiny):
    code, out, err = _sql(capsys, tiny, "-c", "select account_id, excess_charge_amount from "
                                             "marts.fct_account_enforcement where month = date '2026-02-01' order by 1")
    assert (code, err) == (0, "")
    assert "account_id" in out and "excess_charge_amount" in out and "decimal(18,2)" in out
    assert [line.split("│")[1:3] for line in out.splitlines() if "acc-" in line] == [
        [" acc-1      ", "                12.50 "], [" acc-2      ", "                 0.00 "]]


def test_parameters_are_bound_never_pasted(capsys, tiny):
    query = "select count(*) as n from marts.fct_user_monthly_usage where user_id = $user_id and month = $month"
    code, out, _ = _sql(capsys, tiny, "-c", query, "-p", "user_id=u-1", "-p", "month=2026-02", "--format", "csv")
    assert (code, out) == (0, "n\n1\n")
    code, out, _ = _sql(capsys, tiny, "-c", query, "-p", "user_id=x' or '1'='1", "-p", "month=2026-02",
                        "--format", "csv")
    assert (code, out) == (0, "n\n0\n")


def test_named_query_to_csv_json_and_parquet(capsys, tiny, tmp_path):
    args = ["--query", "accounts_on_ladder", "--param", "month=2026-02"]
    code, out, _ = _sql(capsys, tiny, *args, "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["account_id,flagged_users,consecutive_months,action,excess_charge_amount,currency",
                                "acc-1,1,2,require_excess_payment,12.50,USD", "acc-2,2,1,ask_to_moderate,0.00,EUR"]
    code, out, _ = _sql(capsys, tiny, *args, "--format", "json")
    assert code == 0 and [r["account_id"] for r in json.loads(out)] == ["acc-1", "acc-2"]
    assert json.loads(out)[0]["excess_charge_amount"] == 12.5
    for name in ("ladder.csv", "ladder.json", "ladder.parquet"):
        code, _, err = _sql(capsys, tiny, *args, "--output", str(tmp_path / name))  # format from the extension
        assert code == 0 and err == f"wrote 2 rows to {tmp_path / name} ({name.split('.')[1]})\n"
    got = duckdb.sql(f"select account_id, excess_charge_amount from '{tmp_path / 'ladder.parquet'}'").fetchall()
    assert [(a, float(x)) for a, x in got] == [("acc-1", 12.5), ("acc-2", 0.0)]
    assert list(csv.reader(io.StringIO((tmp_path / "ladder.csv").read_text())))[1][0] == "acc-1"
    assert len(json.loads((tmp_path / "ladder.json").read_text())) == 2


def test_sql_on_stdin_runs_like_dash_c(capsys, tiny, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("select 40 + 2 as answer"))
    code, out, _ = _sql(capsys, tiny, "--format", "csv")
    assert (code, out) == (0, "answer\n42\n")


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["-c", "select nope from marts.fct_account_enforcement"], 1,
     'query error: Binder Error: Referenced column "nope" not found in FROM clause!'),
    (["-c", "select nope from marts.fct_account_enforcement"], 1, "(line 1, column 8)"),
    (["-c", "select *\nfrom fct_account_enforcement"], 1, 'Did you mean "marts.fct_account_enforcement"? '
                                                          "(line 2, column 6)"),
    (["-c", "select * form marts.fct_account_enforcement"], 1,
     'query error: Parser Error: syntax error at or near "marts" (line 1, column 15)'),
    (["-c", "delete from marts.fct_account_enforcement"], 1,
     "the warehouse is read-only (DELETE refused): fairuse sql only reads it, the pipeline (`fairuse run`) writes"),
    (["-c", "create table marts.scratch as select 1"], 1, "the warehouse is read-only (CREATE refused)"),
    (["--query", "accounts_on_ladder", "--param", "month=2026-03"], 1,
     "month 2026-03 is not built in {warehouse} (built: 2026-01, 2026-02); build it with `fairuse run --month"),
    (["--query", "am_i_ovr"], 2, "no named query 'am_i_ovr'; did you mean am_i_over? known: accounts_on_ladder, "),
    (["--query", "am_i_over", "--param", "month=2026-02"], 2, "query am_i_over needs --param user_id=VALUE"),
    (["--query", "was_anything_lost", "--param", "month=2026-02"], 2, "has no parameter 'month'"),
    (["--query", "accounts_on_ladder", "--param", "month=Feb"], 2, "--param month=Feb: not a month (YYYY-MM)"),
    (["-c", "select $x"], 2, "the query needs --param x=VALUE"),
    (["-c", "select 1", "--format", "parquet"], 2, "--format parquet needs --output FILE"),
])
def test_errors_are_one_line_an_analyst_understands(capsys, tiny, args, code, expected):
    before = _digest(tiny)
    got, out, err = _sql(capsys, tiny, *args)
    assert got == code
    assert out == ""
    assert err.startswith("fairuse sql: ") and err.count("\n") == 1 and "Traceback" not in err
    assert expected.format(warehouse=tiny) in err
    assert _digest(tiny) == before


def test_no_warehouse_yet_says_how_to_build_one(capsys, tmp_path):
    missing = tmp_path / "data" / "warehouse.duckdb"
    for args in (["-c", "select 1"], ["--query", "was_anything_lost"]):
        code, out, err = _sql(capsys, missing, *args)
        assert (code, out) == (1, "")
        assert err == (f"fairuse sql: no warehouse at {missing} yet: build one with `make demo` (sample data) "
                       "or `fairuse run`\n")
    assert not missing.exists()


def test_a_file_that_is_not_a_warehouse(capsys, tmp_path):
    bogus = tmp_path / "warehouse.duckdb"
    bogus.write_text("not a database")
    code, _, err = _sql(capsys, bogus, "-c", "select 1")
    assert code == 1 and err.startswith(f"fairuse sql: cannot open the warehouse {bogus}: ") and err.count("\n") == 1


def test_month_check_with_no_month_built(capsys, tmp_path):
    empty = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(empty)).close()
    code, _, err = _sql(capsys, empty, "--query", "prohibited_use", "--param", "month=2026-02")
    assert code == 1 and "month 2026-02 is not built" in err and "(built: none yet)" in err


# --- the interactive shell, without a terminal -----------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_shell_is_harlequin_read_only_on_the_warehouse(capsys, tiny, monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(sql, "harlequin_installed", lambda: True)
    started = []

    def fake_exec(path, argv):
        started.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(sql.os, "execv", fake_exec)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_NUMERIC", raising=False)
    for lang, locale in (("en_GB.UTF-8", []), ("C.UTF-8", ["--locale", "C"])):
        monkeypatch.setenv("LANG", lang)
        with pytest.raises(SystemExit):
            main(["sql", "--warehouse", str(tiny)])
        assert started.pop() == [sys.executable, "-m", "harlequin", "--adapter", "duckdb", "--read-only", *locale,
                                 str(tiny)]


def test_shell_without_harlequin_says_how_to_get_it(capsys, tiny, monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(sql, "harlequin_installed", lambda: False)
    code, out, err = _sql(capsys, tiny)
    assert (code, out) == (1, "")
    assert "make sql" in err and "pip install -e '.[sql]'" in err and err.count("\n") == 1


def test_shell_options_without_a_query_are_refused(capsys, tiny, monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Terminal())
    code, _, err = _sql(capsys, tiny, "--param", "month=2026-01")
    assert code == 2 and "go with -c SQL or --query NAME" in err


# --- the publishing contract the shell relies on ---------------------------------------------------------------

def test_an_open_connection_keeps_the_file_it_opened(tmp_path):
    """Publishing renames a new file over the warehouse: an open read-only connection neither blocks it nor sees
    it; the next `fairuse sql` sees the new state (within one process DuckDB shares an open database by path, so
    the old connection is closed first)."""
    published = _make_warehouse(tmp_path / "warehouse.duckdb")
    before = sql.connect(published)
    new = _make_warehouse(tmp_path / "warehouse.new.duckdb", enforcement=False)
    os.replace(new, published)
    assert before.execute("select count(*) from marts.fct_account_enforcement").fetchone() == (3,)
    before.close()
    after = sql.connect(published)
    assert after.execute("select count(*) from marts.fct_account_enforcement").fetchone() == (0,)
    after.close()


# --- on a warehouse built by the pipeline ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(sample_build):
    return sample_build.warehouse


def _run_directly(warehouse: Path, query: sql.NamedQuery, values: dict) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(query.sql, values)
        return [c[0] for c in cur.description], cur.fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_every_named_query_on_a_built_warehouse(capsys, built, tmp_path):
    con = duckdb.connect(str(built), read_only=True)
    user = con.execute("select user_id from marts.fct_fair_use_flags where month = date '2026-02-01' "
                       "order by user_id limit 1").fetchone()[0]
    con.close()
    given = {"user_id": user, "month": "2026-02"}
    sizes = {}
    for name, query in sql.named_queries().items():
        if name == "on_track":  # the provisional watch of an open month: tests/test_watch.py
            code, _, err = _sql(capsys, built, "--query", name, "--param", "month=2026-02")
            assert code == 1 and "has no watch" in err and "fairuse watch --month 2026-02" in err
            continue
        params = [a for p in query.params for a in ("--param", f"{p}={given[p]}")]
        values = sql.bind_params(query.params, {p: given[p] for p in query.params}, name)
        columns, expected = _run_directly(built, query, values)
        sizes[name] = len(expected)

        code, table, err = _sql(capsys, built, "--query", name, *params)  # as printed for a person
        assert (code, err) == (0, ""), name
        header = next(line for line in table.splitlines() if line.startswith("│"))
        assert [c.strip() for c in header.strip("│").split("│")] == columns, name
        if expected:
            assert str(expected[0][0]) in table

        out = tmp_path / f"{name}.csv"
        code, _, err = _sql(capsys, built, "--query", name, *params, "--output", str(out))
        assert code == 0 and f"to {out} (csv)" in err
        rows = list(csv.reader(io.StringIO(out.read_text())))
        assert len(rows) - 1 == len(expected), name
    assert sizes["am_i_over"] == 4  # one row per metric
    assert sizes["accounts_on_ladder"] > 0 and sizes["prohibited_use"] > 0
    assert sizes["was_anything_lost"] == 0


@pytest.mark.slow
def test_evidence_is_printed_whole_and_a_month_not_built_is_named(capsys, built):
    code, table, _ = _sql(capsys, built, "--query", "prohibited_use", "--param", "month=2026-02")
    assert code == 0
    con = duckdb.connect(str(built), read_only=True)
    sentences = [r[0] for r in con.execute("select evidence from marts.fct_prohibited_use_flags "
                                           "where month = date '2026-02-01'").fetchall()]
    con.close()
    assert sentences and all(s in table for s in sentences)
    code, out, err = _sql(capsys, built, "--query", "am_i_over", "--param", "user_id=u-000001",
                          "--param", "month=2026-10")
    assert (code, out) == (1, "")
    assert err == (f"fairuse sql: month 2026-10 is not built in {built} (built: 2026-01, 2026-02); "
                   "build it with `fairuse run --month 2026-10`\n")


@pytest.mark.slow
def test_the_command_as_installed(built, tmp_path):
    out = tmp_path / "ladder.parquet"
    done = subprocess.run([sys.executable, "-m", "dagster_project.cli.main", "sql", "--warehouse", str(built),
                           "--query", "accounts_on_ladder", "--param", "month=2026-02", "-o", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(built), read_only=True)
    n = con.execute("select count(*) from marts.fct_account_enforcement where month = date '2026-02-01'").fetchone()
    con.close()
    assert duckdb.sql(f"select count(*) from '{out}'").fetchall() == [n]
    done = subprocess.run([sys.executable, "-m", "dagster_project.cli.main", "sql", "--warehouse", str(built),
                           "-c", "insert into audit.load_balance select * from audit.load_balance"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "read-only (INSERT refused)" in done.stderr and "Traceback" not in done.stderr


# --- the interactive shell, under tmux -------------------------------------------------------------------------

class _Tmux:
    """A private tmux server (its own socket) with one pane, driven like a person at a keyboard."""

    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket)]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True, timeout=30).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "sql")

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; the pane shows:\n{screen}")
            time.sleep(0.5)

    def type(self, text: str) -> None:
        self("send-keys", "-t", "sql", "-l", text)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "sql", key)
            time.sleep(0.3)

    def pane(self, fmt: str) -> str:
        return self("display-message", "-p", "-t", "sql", fmt).strip()


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):  # /proc entries vanish under our feet
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def _open_modes(pids: list[int], path: Path) -> list[str]:
    """How processes hold `path` open: the access-mode bits of each file descriptor (0 = read-only)."""
    modes = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == str(path):
                        info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                        flags = int(next(line.split()[1] for line in info.splitlines() if line.startswith("flags")), 8)
                        modes.append("read-only" if flags & os.O_ACCMODE == os.O_RDONLY else "writable")
    return modes


@pytest.mark.slow
def test_interactive_shell_under_tmux(built, tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (Debian: apt-get install tmux); the interactive shell is not tested")
    if importlib.util.find_spec("harlequin") is None:
        pytest.skip("Harlequin is not installed (make sql, or pip install -e '.[sql]'); the shell is not tested")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built, warehouse)
    opened = tmp_path / "opened.duckdb"
    os.link(warehouse, opened)  # the very file the shell opens, still reachable after a new one is renamed in place
    published = _digest(warehouse)
    status = tmp_path / "exit-status"  # written by the pane's shell when the command ends
    home = tmp_path / "home"  # no personal config, history or ~/.duckdbrc of whoever runs the tests
    env = {"HOME": home, "XDG_CONFIG_HOME": home / ".config", "XDG_DATA_HOME": home / ".local/share",
           "XDG_STATE_HOME": home / ".local/state", "XDG_CACHE_HOME": home / ".cache", "TERM": "xterm-256color"}
    command = " ".join(["env", "-u", "COLUMNS", "-u", "LINES",  # the pane's own size, whatever the runner says
                        *(f"{k}={shlex.quote(str(v))}" for k, v in env.items()),
                        shlex.quote(sys.executable), "-m", "dagster_project.cli.main", "sql",
                        "--warehouse", shlex.quote(str(warehouse)), ";", "echo $? >", shlex.quote(str(status))])
    sockets = Path(tempfile.mkdtemp(prefix="fairuse-tmux-"))  # short: a socket path has a length limit
    tmux = _Tmux(sockets / "sock")
    try:
        tmux("new-session", "-d", "-s", "sql", "-x", "160", "-y", "45", "-c", str(REPO), command)
        tmux("set-option", "-t", "sql", "remain-on-exit", "on")
        tmux.wait_for("Query Editor")
        tmux.wait_for("warehouse db")  # the catalog lists the published database

        # read-only on the published file, as the operating system sees it
        assert set(_open_modes(_descendants(int(tmux.pane("#{pane_pid}"))), warehouse)) == {"read-only"}

        tmux.type("select 'users: ' || count(distinct user_id) as answer from marts.fct_user_monthly_usage "
                  "where month = date '2026-02-01'")
        tmux.keys("C-j")  # Harlequin: ctrl+enter or ctrl+j runs the query
        con = duckdb.connect(str(warehouse), read_only=True)
        users = con.execute("select count(distinct user_id) from marts.fct_user_monthly_usage "
                            "where month = date '2026-02-01'").fetchone()[0]
        con.close()
        tmux.wait_for(f"users: {users}")

        # the pipeline publishes a new state meanwhile (a new file renamed over the path): not blocked, not seen
        new = tmp_path / "warehouse.next.duckdb"
        shutil.copy(warehouse, new)
        con = duckdb.connect(str(new))
        con.execute("delete from marts.fct_user_monthly_usage where month = date '2026-02-01'")
        con.close()
        os.replace(new, warehouse)
        tmux.keys("Escape", "F2")  # back to the editor; the query run is the one under the cursor, after a ";"
        tmux.type("; select 'again: ' || count(distinct user_id) as answer from marts.fct_user_monthly_usage "
                  "where month = date '2026-02-01'")
        tmux.keys("C-j")
        tmux.wait_for(f"again: {users}")

        # a write is refused by DuckDB itself
        tmux.keys("Escape", "F2")
        tmux.type("; delete from marts.fct_account_enforcement")
        tmux.keys("C-j")
        tmux.wait_for("read-only mode")

        tmux.keys("Escape", "C-q")
        deadline = time.monotonic() + 60
        while not status.exists() or not status.read_text().strip():
            assert time.monotonic() < deadline, f"the shell did not end on ctrl+q; the pane shows:\n{tmux.screen()}"
            time.sleep(0.3)
        assert status.read_text().strip() == "0"
        assert "Locale Not Set" not in tmux.screen()
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=30)
        shutil.rmtree(sockets, ignore_errors=True)
    # the file the shell had open was never written; the one published meanwhile is now in place
    assert _digest(opened) == published
    code = subprocess.run([sys.executable, "-m", "dagster_project.cli.main", "sql", "--warehouse", str(warehouse),
                           "-c", "select count(*) from marts.fct_user_monthly_usage where month = date '2026-02-01'",
                           "--format", "csv"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert code.stdout == "count_star()\n0\n"

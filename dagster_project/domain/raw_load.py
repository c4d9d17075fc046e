"""Raw loading: one month of raw Parquet into DuckDB, validated, de-duplicated, quarantined, balanced.

All the row work is set-based DuckDB SQL. The month is replaced in one transaction, after every file of the
month has been read and cast: a bad file raises `BadRawFile` before anything is written.

Rules (CONTRACT §1 "Bad input"), per month and dataset:
1. duplicates: rows with the same non-null id are one event; the latest delivered copy wins (file mtime, then
   file name, then later position in the file); dropped copies that differ are recorded as conflicts;
2. row rules on the kept row, first matching reason wins (see `_reason_sql`);
3. conservation: rows read = counted + quarantined + duplicates dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb


class BadRawFile(RuntimeError):
    """A raw file that cannot be loaded; the message names the file and, where one is at fault, the column."""


@dataclass(frozen=True)
class Dataset:
    name: str
    id_col: str
    columns: dict[str, str]  # contract column -> DuckDB type
    optional: frozenset[str] = field(default_factory=frozenset)  # may be absent from a file (then null)
    event_time: str | None = None  # decides the month
    required: tuple[str, ...] = ()  # missing_required, beyond the id
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nullable_enums: frozenset[str] = field(default_factory=frozenset)
    partition: str = "month"  # folder key: month=YYYY-MM or snapshot_date=YYYY-MM-DD


CALLS = Dataset(
    name="calls",
    id_col="call_id",
    columns={
        "call_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR", "direction": "VARCHAR",
        "started_at": "TIMESTAMP", "answered_at": "TIMESTAMP", "ended_at": "TIMESTAMP",
        "from_number": "VARCHAR", "to_number": "VARCHAR", "disposition": "VARCHAR",
        "forwarded_to": "VARCHAR", "initiated_via": "VARCHAR",
    },
    optional=frozenset({"answered_at", "forwarded_to", "initiated_via"}),
    event_time="started_at",
    required=("user_id", "started_at", "ended_at", "direction", "disposition"),
    enums={
        "direction": ("inbound", "outbound", "internal"),
        "disposition": ("answered", "no_answer", "busy", "failed", "voicemail"),
        "initiated_via": ("app", "desk_phone", "web", "api"),
    },
    nullable_enums=frozenset({"initiated_via"}),
)
MESSAGES = Dataset(
    name="messages",
    id_col="message_id",
    columns={
        "message_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR", "channel": "VARCHAR",
        "direction": "VARCHAR", "sent_at": "TIMESTAMP", "counterparty_number": "VARCHAR", "segments": "INTEGER",
    },
    optional=frozenset({"segments"}),
    event_time="sent_at",
    required=("user_id", "sent_at", "direction", "channel"),
    enums={"channel": ("sms", "mms", "whatsapp"), "direction": ("sent", "received")},
)
CHATS = Dataset(
    name="chats",
    id_col="chat_message_id",
    columns={
        "chat_message_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR",
        "conversation_id": "VARCHAR", "sent_at": "TIMESTAMP",
    },
    event_time="sent_at",
    required=("user_id", "sent_at"),
)
ACCOUNTS = Dataset(
    name="accounts",
    id_col="account_id",
    columns={
        "account_id": "VARCHAR", "account_name": "VARCHAR", "country": "VARCHAR", "plan": "VARCHAR",
        "declared_contact_center": "BOOLEAN", "surcharge_agreed_on": "DATE",
        "surcharge_rate_per_minute": "DECIMAL(10,4)", "currency": "VARCHAR",
    },
    optional=frozenset({"surcharge_agreed_on", "surcharge_rate_per_minute"}),
    partition="snapshot_date",
)
USERS = Dataset(
    name="users",
    id_col="user_id",
    columns={"user_id": "VARCHAR", "account_id": "VARCHAR", "created_at": "TIMESTAMP", "deactivated_at": "TIMESTAMP"},
    optional=frozenset({"deactivated_at"}),
    partition="snapshot_date",
)
EVENT_DATASETS = (CALLS, MESSAGES, CHATS)
REFERENCE_DATASETS = (ACCOUNTS, USERS)

DDL = """
create schema if not exists raw;
create schema if not exists audit;
create table if not exists raw.calls (
    month date, {calls}, source_file varchar, source_row bigint, delivered_at timestamp,
    quarantine_reason varchar);
create table if not exists raw.messages (
    month date, {messages}, source_file varchar, source_row bigint, delivered_at timestamp,
    quarantine_reason varchar);
create table if not exists raw.chats (
    month date, {chats}, source_file varchar, source_row bigint, delivered_at timestamp,
    quarantine_reason varchar);
create table if not exists raw.accounts (snapshot_date date, {accounts}, source_file varchar);
create table if not exists raw.users (snapshot_date date, {users}, source_file varchar);
create table if not exists audit.quarantined_rows (
    month date, dataset varchar, source_file varchar, row_id varchar, reason varchar);
create table if not exists audit.conflicting_duplicates (
    month date, dataset varchar, id varchar, kept_file varchar, dropped_file varchar);
create table if not exists audit.load_balance (
    month date, dataset varchar, rows_read bigint, rows_counted bigint, rows_quarantined bigint,
    duplicates_dropped bigint);
create table if not exists audit.loaded_files (
    month date, dataset varchar, source_file varchar, size_bytes bigint, modified_at timestamp, rows_read bigint);
create table if not exists audit.month_watermarks (month date, data_complete_to timestamp);
"""



def _cols_ddl(ds: Dataset) -> str:
    return ", ".join(f"{c} {t}" for c, t in ds.columns.items())


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL.format(**{ds.name: _cols_ddl(ds) for ds in EVENT_DATASETS + REFERENCE_DATASETS}))


def connect(path: str | Path, read_only: bool = False, memory_limit: str = "3GB") -> duckdb.DuckDBPyConnection:
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    # Month truncation of TIMESTAMPTZ follows the session zone: pin it so results never depend on the machine.
    con.execute("set TimeZone = 'UTC'")
    # Bounded memory: DuckDB spills to a temp directory beside the database beyond this.
    con.execute(f"set memory_limit = '{memory_limit}'")
    return con


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel: str  # relative to the raw dir, POSIX
    partition_value: str  # YYYY-MM or YYYY-MM-DD
    size: int
    mtime_us: int


def list_files(raw_dir: Path, ds: Dataset, partition_value: str | None = None) -> list[RawFile]:
    """Files of a dataset, optionally of one partition folder, sorted by relative path (deterministic)."""
    base = raw_dir / ds.name
    if not base.is_dir():
        return []
    if partition_value:
        folders = [base / f"{ds.partition}={partition_value}"]
    else:
        folders = sorted(base.glob(f"{ds.partition}=*"))
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.parquet")):
            st = p.stat()
            out.append(RawFile(p, p.relative_to(raw_dir).as_posix(), folder.name.split("=", 1)[1],
                               st.st_size, st.st_mtime_ns // 1000))
    return out


def months_in_raw(raw_dir: Path) -> list[str]:
    """Every YYYY-MM with an event folder, sorted."""
    months = set()
    for ds in EVENT_DATASETS:
        base = Path(raw_dir) / ds.name
        if base.is_dir():
            months.update(p.name.split("=", 1)[1] for p in base.glob("month=*") if p.is_dir())
    return sorted(months)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _file_schema(con: duckdb.DuckDBPyConnection, f: RawFile) -> dict[str, str]:
    try:
        rows = con.execute(f"describe select * from read_parquet({_sql_str(str(f.path))})").fetchall()
    except duckdb.Error as e:
        raise BadRawFile(f"{f.rel}: cannot be read as Parquet ({e.__class__.__name__}: {e})") from e
    return {r[0]: r[1] for r in rows}


def _cast_expr(col: str, target: str, source_type: str) -> str:
    if target == "TIMESTAMP" and source_type.startswith("TIMESTAMP WITH TIME ZONE"):
        # Session zone is UTC, so this is the UTC wall-clock instant.
        return f"cast({col} as TIMESTAMP)"
    return f"cast({col} as {target})"


def _file_select(con: duckdb.DuckDBPyConnection, f: RawFile, ds: Dataset) -> str:
    """SELECT of one file cast to the contract types, plus bookkeeping columns. Raises on a missing column."""
    schema = _file_schema(con, f)
    exprs = []
    for col, typ in ds.columns.items():
        if col in schema:
            exprs.append(f"{_cast_expr(col, typ, schema[col])} as {col}")
        elif col in ds.optional:
            exprs.append(f"cast(null as {typ}) as {col}")
        else:
            raise BadRawFile(f"{f.rel}: required column '{col}' is missing")
    exprs += [
        f"{_sql_str(f.rel)} as source_file",
        "file_row_number as source_row",
        f"make_timestamp({f.mtime_us}) as delivered_at",
    ]
    if ds.partition == "snapshot_date":
        exprs.append(f"date {_sql_str(f.partition_value)} as snapshot_date")
    return f"select {', '.join(exprs)} from read_parquet({_sql_str(str(f.path))}, file_row_number = true)"


def _land(con: duckdb.DuckDBPyConnection, files: list[RawFile], ds: Dataset, table: str) -> None:
    """Read and cast every file into a temp table; on a cast error find and name the file and column."""
    extra = ", snapshot_date date" if ds.partition == "snapshot_date" else ""
    con.execute(f"create or replace temp table {table} ({_cols_ddl(ds)}, source_file varchar, "
                f"source_row bigint, delivered_at timestamp{extra})")
    selects = [_file_select(con, f, ds) for f in files]
    if not selects:
        return
    try:
        con.execute(f"insert into {table} by name " + " union all by name ".join(selects))
    except duckdb.Error as e:
        for f in files:
            schema = _file_schema(con, f)
            for col, typ in ds.columns.items():
                if col not in schema:
                    continue
                try:
                    con.execute(f"select count({_cast_expr(col, typ, schema[col])}) "
                                f"from read_parquet({_sql_str(str(f.path))})").fetchone()
                except duckdb.Error as ce:
                    raise BadRawFile(
                        f"{f.rel}: column '{col}' ({schema[col]}) cannot be cast to {typ}: {ce}") from ce
        raise BadRawFile(f"reading {ds.name} files failed: {e}") from e


def _reason_sql(ds: Dataset, month_start: str) -> str:
    """First matching quarantine reason of a kept row `k` joined to its user-as-of-month `u` (else null)."""
    missing = " or ".join(f"k.{c} is null" for c in (ds.id_col, *ds.required))
    invalid = []
    for col, values in ds.enums.items():
        allowed = ", ".join(_sql_str(v) for v in values)
        cond = f"k.{col} not in ({allowed})"
        invalid.append(f"(k.{col} is not null and {cond})" if col in ds.nullable_enums else cond)
    t = f"k.{ds.event_time}"
    whens = [f"when {missing} then 'missing_required'"]
    if invalid:
        whens.append(f"when {' or '.join(invalid)} then 'invalid_value'")
    if ds.name == "calls":
        whens.append("when k.ended_at < k.started_at or k.answered_at < k.started_at "
                     "or k.answered_at > k.ended_at then 'invalid_interval'")
    whens += [
        f"when {t} < date {_sql_str(month_start)} "
        f"or {t} >= date {_sql_str(month_start)} + interval 1 month then 'wrong_month'",
        "when u.user_id is null then 'unknown_user'",
        "when k.account_id is not null and k.account_id <> u.account_id then 'account_mismatch'",
    ]
    return "case " + " ".join(whens) + " end"


USERS_AS_OF_MONTH_SQL = """
    -- The user's record as of the month: latest snapshot on or before the month's last day that contains it,
    -- else the earliest snapshot that does (CONTRACT §1). Mirrors dbt's int_users__as_of_month.
    select user_id, account_id
    from {users}
    qualify row_number() over (
        partition by user_id
        order by (snapshot_date <= {month_end}) desc,
                 case when snapshot_date <= {month_end} then snapshot_date end desc nulls last,
                 snapshot_date asc
    ) = 1
"""


@dataclass
class LoadResult:
    month: str
    balance: dict[str, dict[str, int]]  # dataset -> rows_read, rows_counted, rows_quarantined, duplicates_dropped
    quarantined_by_reason: dict[str, dict[str, int]]
    conflicts: dict[str, int]
    files: dict[str, int]
    reference_rows: dict[str, int]
    data_complete_to: str | None


def _load_reference(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> dict[str, int]:
    """Every snapshot of accounts and users, into temp tables (one row per snapshot and id, latest delivery)."""
    counts = {}
    for ds in REFERENCE_DATASETS:
        _land(con, list_files(raw_dir, ds), ds, f"landed_{ds.name}")
        cols = ", ".join(ds.columns)
        con.execute(f"""
            create or replace temp table ref_{ds.name} as
            select snapshot_date, {cols}, source_file from landed_{ds.name}
            where {ds.id_col} is not null
            qualify row_number() over (partition by snapshot_date, {ds.id_col}
                                       order by delivered_at desc, source_file desc, source_row desc) = 1
        """)
        counts[ds.name] = con.execute(f"select count(*) from ref_{ds.name}").fetchone()[0]
    return counts


def load_month(con: duckdb.DuckDBPyConnection, raw_dir: Path, month: str) -> LoadResult:
    """Load month `YYYY-MM` from `raw_dir` and replace it in the database, in one transaction."""
    raw_dir = Path(raw_dir)
    month_start = f"{month}-01"
    month_end = f"(date {_sql_str(month_start)} + interval 1 month - interval 1 day)::date"
    ensure_schema(con)

    # 1. Read everything first: a bad file raises here, before anything is written.
    reference_rows = _load_reference(con, raw_dir)
    if reference_rows["users"] == 0:
        raise BadRawFile(f"{raw_dir / 'users'}: no users snapshot found; cannot resolve users")
    files = {ds.name: list_files(raw_dir, ds, month) for ds in EVENT_DATASETS}
    for ds in EVENT_DATASETS:
        _land(con, files[ds.name], ds, f"landed_{ds.name}")

    con.execute("create or replace temp table users_asof as "
                + USERS_AS_OF_MONTH_SQL.format(users="ref_users", month_end=month_end))

    for ds in EVENT_DATASETS:
        n, id_ = ds.name, ds.id_col
        # 2. Duplicates. Only ids delivered more than once need ranking (a small share of the rows): latest
        #    delivery first. Null ids are never merged.
        con.execute(f"""
            create or replace temp table repeated_{n} as
            select *,
                row_number() over (partition by {id_}
                                   order by delivered_at desc, source_file desc, source_row desc) as delivery_rank
            from landed_{n}
            where {id_} in (select {id_} from landed_{n} where {id_} is not null group by {id_} having count(*) > 1)
        """)
        same = " and ".join(f"d.{c} is not distinct from k.{c}" for c in ds.columns)
        con.execute(f"""
            create or replace temp table conflicts_{n} as
            select date {_sql_str(month_start)} as month, {_sql_str(n)} as dataset, d.{id_} as id,
                   k.source_file as kept_file, d.source_file as dropped_file
            from repeated_{n} d
            join repeated_{n} k on k.{id_} = d.{id_} and k.delivery_rank = 1
            where d.delivery_rank > 1 and not ({same})
        """)
        con.execute(f"create or replace temp table dropped_{n} as "
                    f"select source_file, source_row from repeated_{n} where delivery_rank > 1")

    # 3. Replace the month, all datasets, in one transaction. Row rules apply to the kept rows; a null
    #    account_id is filled from the user's record of the month.
    con.execute("begin transaction")
    try:
        for ds in REFERENCE_DATASETS:
            con.execute(f"delete from raw.{ds.name}")
            con.execute(f"insert into raw.{ds.name} by name select * from ref_{ds.name}")
        for ds in EVENT_DATASETS:
            n = ds.name
            select_cols = ", ".join(
                "case when reason is null then coalesce(account_id, user_account_id) else account_id end "
                "as account_id" if c == "account_id" else c for c in ds.columns)
            con.execute(f"delete from raw.{n} where month = ?", [month_start])
            con.execute(f"""
                insert into raw.{n} by name
                select date {_sql_str(month_start)} as month, {select_cols},
                       source_file, source_row, delivered_at, reason as quarantine_reason
                from (select k.*, u.account_id as user_account_id, {_reason_sql(ds, month_start)} as reason
                      from landed_{n} k
                      left join users_asof u on u.user_id = k.user_id
                      anti join dropped_{n} d on d.source_file = k.source_file and d.source_row = k.source_row)
            """)
            for table in ("quarantined_rows", "conflicting_duplicates", "load_balance", "loaded_files"):
                con.execute(f"delete from audit.{table} where month = ? and dataset = ?", [month_start, n])
            con.execute(f"""
                insert into audit.quarantined_rows
                select month, {_sql_str(n)}, source_file, {ds.id_col}, quarantine_reason
                from raw.{n} where month = ? and quarantine_reason is not null
            """, [month_start])
            con.execute(f"insert into audit.conflicting_duplicates select * from conflicts_{n}")
            if files[n]:
                con.execute(f"""
                    insert into audit.load_balance
                    select date {_sql_str(month_start)}, {_sql_str(n)},
                        (select count(*) from landed_{n}),
                        count(*) filter (where quarantine_reason is null),
                        count(*) filter (where quarantine_reason is not null),
                        (select count(*) from dropped_{n})
                    from raw.{n} where month = ?
                """, [month_start])
            per_file = dict(con.execute(f"select source_file, count(*) from landed_{n} group by 1").fetchall())
            for f in files[n]:
                con.execute("insert into audit.loaded_files select ?::date, ?, ?, ?, make_timestamp(?), ?",
                            [month_start, n, f.rel, f.size, f.mtime_us, per_file.get(f.rel, 0)])
        con.execute("delete from audit.month_watermarks where month = ?", [month_start])
        con.execute("""
            insert into audit.month_watermarks
            select ?::date, max(t) from (
                select max(started_at) as t from raw.calls where month = ? and quarantine_reason is null
                union all select max(sent_at) from raw.messages where month = ? and quarantine_reason is null
                union all select max(sent_at) from raw.chats where month = ? and quarantine_reason is null)
        """, [month_start] * 4)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return _result(con, month, month_start, files, reference_rows)


def _result(con, month, month_start, files, reference_rows) -> LoadResult:
    balance = {
        r[0]: {"rows_read": r[1], "rows_counted": r[2], "rows_quarantined": r[3], "duplicates_dropped": r[4]}
        for r in con.execute("select dataset, rows_read, rows_counted, rows_quarantined, duplicates_dropped "
                             "from audit.load_balance where month = ? order by dataset", [month_start]).fetchall()
    }
    by_reason: dict[str, dict[str, int]] = {}
    for ds, reason, n in con.execute(
        "select dataset, reason, count(*) from audit.quarantined_rows where month = ? group by all order by all",
        [month_start],
    ).fetchall():
        by_reason.setdefault(ds, {})[reason] = n
    conflicts = dict(con.execute(
        "select dataset, count(*) from audit.conflicting_duplicates where month = ? group by all order by all",
        [month_start]).fetchall())
    wm = con.execute("select data_complete_to from audit.month_watermarks where month = ?",
                     [month_start]).fetchone()
    return LoadResult(
        month=month,
        balance=balance,
        quarantined_by_reason=by_reason,
        conflicts=conflicts,
        files={k: len(v) for k, v in files.items()},
        reference_rows=reference_rows,
        data_complete_to=wm[0].isoformat() if wm and wm[0] else None,
    )


def check_conservation(con: duckdb.DuckDBPyConnection, raw_dir: Path, month: str) -> dict[str, tuple[bool, dict]]:
    """Re-count a loaded month independently of the load: rows read from the Parquet footers of the files now
    in the folder, counted and quarantined rows from the stored tables, duplicates from the balance row.
    Returns, per event dataset, (balanced?, the numbers)."""
    month_start = f"{month}-01"
    out = {}
    for ds in EVENT_DATASETS:
        files = list_files(Path(raw_dir), ds, month)
        read = 0
        if files:
            paths = ", ".join(_sql_str(str(f.path)) for f in files)
            read = con.execute(f"select coalesce(sum(num_rows), 0) from parquet_file_metadata([{paths}])").fetchone()[0]
        counted, quarantined = con.execute(
            f"select count(*) filter (where quarantine_reason is null), "
            f"count(*) filter (where quarantine_reason is not null) from raw.{ds.name} where month = ?",
            [month_start]).fetchone()
        audit_q = con.execute("select count(*) from audit.quarantined_rows where month = ? and dataset = ?",
                              [month_start, ds.name]).fetchone()[0]
        row = con.execute("select rows_read, duplicates_dropped from audit.load_balance "
                          "where month = ? and dataset = ?", [month_start, ds.name]).fetchone()
        recorded_read, dropped = row if row else (0, 0)
        detail = {"rows_read": int(read), "rows_counted": counted, "rows_quarantined": quarantined,
                  "duplicates_dropped": dropped}
        ok = read == counted + quarantined + dropped and audit_q == quarantined and recorded_read == read
        out[ds.name] = (ok, detail)
    return out

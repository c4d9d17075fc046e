"""The Spark engine (FAIRUSE_ENGINE=spark, `fairuse run --engine spark`): the same dbt models on Apache Spark, via
dbt-spark's `session` method, behind the interface of domain/engine.py.

Optional: needs `pip install -e '.[spark]'` (pyspark with its Spark Connect client, dbt-spark) and a Java runtime.
Only domain/engine.py imports this module, and only when the engine is chosen; pyspark is imported inside the
functions.

- One SparkSession per process (`spark_session`), session time zone UTC. dbt-spark's `session` method calls
  `SparkSession.builder.getOrCreate()`, so dbt runs on this very session (its catalog, views and the key).
  - Local (default): master `FAIRUSE_SPARK_MASTER` (local[2]) with a persistent catalog: Hive support with an
    embedded Derby metastore and the tables' files under `Settings.spark_dir` (data/build/warehouse.spark/: the
    owner-only build folder), so intermediate, marts and audit stay queryable from Spark after the process ends.
    Spark's own log goes to spark.log there.
  - A cluster (`FAIRUSE_SPARK_REMOTE=sc://host:port`): a Spark Connect session to that server; the catalog, the
    tables and the files are the server's. dbt gets SPARK_REMOTE for its invocation, so its `getOrCreate()` returns
    this session (profiles.yml output `spark_connect`).
- The pseudonymisation key never appears in SQL text: it is a one-row temporary view `fairuse_hash_key` (column
  `key`) made from a DataFrame of the key (`register_key`; over Spark Connect the value travels as data, not as
  SQL), which macros/keyed_hash.sql's `spark__keyed_hash` reads as a scalar subquery. Compiled SQL, plans, column
  names and logs only name the view. No Python UDF: a cluster needs no Python of ours.
- The raw step (`record_month`): the footers are checked by the shared code (domain/raw_files.py, DuckDB in
  memory, no rows read); then, per dataset, a view `raw.<dataset>` over the month's explicit file list, each file
  read in place (`parquet.\\`path\\``) by whoever runs the session (on a cluster the raw folder must be readable at
  the same path by the cluster), cast to the contract's types, with source_file, source_row (the row's position
  in its file: Spark's `_metadata.row_index`), delivered_at (the file's mtime) and the month; and the delivery
  record `raw.delivered_files`. Raw data in a bucket (`s3://bucket/prefix`): listed and its footers checked
  through s3fs as on DuckDB, then read by Spark as `s3a://bucket/key` through Hadoop's S3A connector, which the
  session must have (`hadoop-aws` on its classpath; a local session gets the endpoint, region and path-style
  access from the standard AWS variables, `s3a_conf`; credentials come from S3A's default chain, which reads the
  same variables). A session without the connector fails the raw step in one line naming it. Reading through
  S3A is not tested here: the connector's jars come from Maven Central, which this project's machines cannot
  reach (docs/operators.md: The Spark engine).
- `dbt_build`: `dbt build` on the `spark` (or `spark_connect`) output of profiles.yml, in this process, through
  domain/dbt_runner.py (the parsed manifest cached per output, per-node results for Dagster).
- `publish`: the marts and audit tables copied Spark -> Arrow -> the DuckDB build file (settings.build_db: the
  months rebuilt since the last publish, cross-month tables whole), then published as on DuckDB
  (domain/publish.py): the same read-only warehouse file, the same exports.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import duckdb

from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS, Dataset
from dagster_project.domain.dbt_runner import BuildResult
from dagster_project.domain.locations import LocationError, is_url, register_filesystem
from dagster_project.domain.publish import PublishResult
from dagster_project.domain.raw_files import BadRawFile, InspectedFile, inspect, list_files
from dagster_project.domain.raw_load import DeliveryRecord, view_sql
from dagster_project.domain.settings import Settings

KEY_VIEW = "fairuse_hash_key"
SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "TIMESTAMP": "timestamp", "BOOLEAN": "boolean",
               "DATE": "date", "DECIMAL(10,4)": "decimal(10,4)", "BIGINT": "bigint"}
PUBLISHED_SCHEMAS = ("marts", "audit")
# Session settings dbt-spark's profile also sets (profiles.yml server_side_parameters); runtime ones, so a Spark
# Connect session can set them too.
RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.ansi.enabled": "false",
}
LOG4J2 = """# Spark's log of the fairuse engine (written by domain/spark_engine.py): warnings and errors, to a file.
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


def spark_available() -> str | None:
    """None when the Spark engine can run here, else why not."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (install a JDK 17, e.g. Debian openjdk-17-jre-headless)"
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark / dbt-spark missing (pip install -e '.[spark]')"
    return None


def profile_target(s: Settings) -> str:
    """The profiles.yml output dbt builds with: `spark_connect` with a Spark Connect server, else `spark`."""
    return "spark_connect" if s.spark_remote else "spark"


_session = None  # the process's SparkSession (one JVM / one Connect session per process)


def spark_session(s: Settings):
    """The process's SparkSession (created on first use), UTC, with the key view registered."""
    global _session
    from pyspark.sql import SparkSession

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    if _session is None:
        if s.spark_remote:
            spark = SparkSession.builder.remote(s.spark_remote).getOrCreate()
        else:
            spark = _local_builder(SparkSession.builder, s).getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
        for k, v in RUNTIME_CONF.items():
            spark.conf.set(k, v)
        _session = spark
    register_key(_session, hash_key_of(s))
    return _session


def hash_key_of(s: Settings) -> str:
    from dagster_project.domain.settings import hash_key

    return hash_key(s)


def s3a_conf(env: dict[str, str] | None = None) -> dict[str, str]:
    """Hadoop S3A settings of a local session from the standard AWS variables (the same ones s3fs reads): the
    endpoint of an S3-compatible store (AWS_ENDPOINT_URL, with path-style access, as MinIO and Ceph need) and the
    region (AWS_REGION, else AWS_DEFAULT_REGION). No credentials: S3A's default provider chain reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN itself, so they never enter Spark's
    configuration (which its logs and UI show). A cluster (Spark Connect) uses its own configuration."""
    env = os.environ if env is None else env
    conf = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")  # AWS_REGION first, as locations.aws_region
    if region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = region
    return conf


def spark_path(path: Path | str) -> str:
    """A raw file's path as Spark reads it: an object's `s3://` URL as `s3a://` (Hadoop's S3A connector; Hadoop's
    `s3://` scheme is another, retired file system), a local path as it is."""
    text = str(path)
    return "s3a://" + text.removeprefix("s3://") if text.startswith("s3://") else text


def local_conf(s: Settings) -> dict[str, str]:
    """The static configuration of a local session: Hive catalog in an embedded Derby metastore and the tables'
    files under `s.spark_dir` (created owner-only), Spark's log to a file there, loopback only, no UI; the S3A
    settings when the raw data is in a bucket (`s3a_conf`)."""
    d = s.spark_dir
    d.mkdir(parents=True, exist_ok=True)
    d.parent.chmod(0o700)
    d.chmod(0o700)
    log4j = d / "log4j2.properties"
    log4j.write_text(LOG4J2.format(log=d / "spark.log"))
    java_opts = (f"-Dderby.system.home={d} -Dderby.stream.error.file={d / 'derby.log'} "
                 f"-Dlog4j2.configurationFile=file:{log4j}")
    return {
        "spark.master": s.spark_master,
        "spark.app.name": "fairuse",
        "spark.driver.memory": s.spark_driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(d / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={d / 'metastore_db'};create=true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        **(s3a_conf() if is_url(s.raw_dir) else {}),
        **RUNTIME_CONF,
    }


def _local_builder(builder, s: Settings):
    for k, v in local_conf(s).items():
        builder = builder.config(k, v)
    return builder.enableHiveSupport()


def register_key(spark, key: str | None) -> None:
    """The temporary view `fairuse_hash_key` (one row, column `key`) in this session: the key, or null without one
    (keyed_hash then fails the run). Made from data, never from SQL text."""
    spark.createDataFrame([(key or None,)], "key string").createOrReplaceTempView(KEY_VIEW)


# ---------------------------------------------------------------------------------------------------------------
# The raw step


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cast(col: str, target: str, stored: str | None) -> str:
    t = SPARK_TYPES[target]
    if stored is None:
        return f"cast(null as {t}) as {col}"
    return f"cast(`{col}` as {t}) as {col}"


def _file_select(ds: Dataset, f: InspectedFile) -> str:
    cols = [_cast(c, t, f.columns.get(c)) for c, t in ds.columns.items()]
    part = f.file.partition_value + ("-01" if ds.partition == "month" else "")
    path = spark_path(f.file.path).replace("`", "``")
    return (f"select {', '.join(cols)}, {_q(f.file.rel)} as source_file, "
            f"cast(_metadata.row_index as bigint) as source_row, "
            f"timestamp_micros({f.file.mtime_us}) as delivered_at, date {_q(part)} as {ds.partition} "
            f"from parquet.`{path}`")


def record_month(spark, raw_dir: Path | str, month: str) -> DeliveryRecord:
    """Check every file of `YYYY-MM` and every snapshot (shared footer checks), then point raw.* at them."""
    con = duckdb.connect()
    try:
        register_filesystem(con, raw_dir)  # a bucket's footers read through s3fs, as on DuckDB
        inspected = {ds.name: inspect(con, ds, list_files(raw_dir, ds, month)) for ds in EVENT_DATASETS}
        inspected |= {ds.name: inspect(con, ds, list_files(raw_dir, ds)) for ds in REFERENCE_DATASETS}
    finally:
        con.close()
    if not inspected["users"]:
        raise BadRawFile(f"{raw_dir}/users: no users snapshot found; cannot resolve users")
    if not spark.catalog.databaseExists("raw"):  # (Hive logs an error for "if not exists" on an existing one)
        spark.sql("create database raw")
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        sql = view_sql(ds, inspected[ds.name], _file_select, SPARK_TYPES.__getitem__)
        try:
            spark.sql(f"create or replace view raw.{ds.name} as {sql}")
        except Exception as e:
            if is_url(raw_dir) and _no_s3a(e):
                raise LocationError(
                    f"{raw_dir}: the Spark session cannot read s3a:// paths: Hadoop's S3A connector (hadoop-aws) "
                    f"is not on its classpath (docs/operators.md: The Spark engine)") from None
            raise
    rows = []
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        for f in inspected[ds.name]:
            event = ds.partition == "month"
            rows.append(
                f"select {_q(ds.name)} as dataset, "
                f"{'date ' + _q(month + '-01') if event else 'cast(null as date)'} as month, "
                f"{'cast(null as date)' if event else 'date ' + _q(f.file.partition_value)} as snapshot_date, "
                f"{_q(f.file.rel)} as source_file, cast({f.file.size} as bigint) as size_bytes, "
                f"timestamp_micros({f.file.mtime_us}) as modified_at, cast({f.rows} as bigint) as rows_read")
    # The delivery record of the month being built (staging reads the month's event files and the snapshots).
    spark.sql("create or replace view raw.delivered_files as " + "\nunion all\n".join(rows))
    return DeliveryRecord(month, {n: len(fs) for n, fs in inspected.items()},
                          {n: sum(f.rows for f in fs) for n, fs in inspected.items()})


def _no_s3a(e: Exception) -> bool:
    """Whether Spark failed because it has no file system for `s3a://` (the S3A connector is not installed)."""
    seen: BaseException | None = e
    for _ in range(10):  # pyspark keeps the JVM's cause as `_cause` (S3AFileSystem's ClassNotFoundException)
        if seen is None:
            return False
        text = str(seen)
        if 'No FileSystem for scheme "s3a"' in text or "S3AFileSystem not found" in text:
            return True
        seen = getattr(seen, "_cause", None) or seen.__cause__
    return False


# ---------------------------------------------------------------------------------------------------------------
# Publishing from Spark: marts and audit into the DuckDB build file, then domain/publish.py


def spark_tables(spark, schemas: Iterable[str] = PUBLISHED_SCHEMAS) -> list[str]:
    out = []
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        out += [f"{schema}.{t.name}" for t in spark.catalog.listTables(schema)
                if not t.isTemporary and t.tableType != "VIEW"]
    return sorted(out)


def _duck_type(spark_type: str) -> str:
    t = spark_type.lower()
    if t.startswith("decimal"):
        return t.upper()
    return {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE", "float": "FLOAT",
            "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
            "smallint": "SMALLINT", "tinyint": "TINYINT"}.get(t, "VARCHAR")


def _layout(spark, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) in the model's order: Spark lists partition columns (month) last; every month-grain
    model selects its month first, so partition columns go back to the front."""
    fields = [(f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields]
    parts = {c.name for c in spark.catalog.listColumns(table) if c.isPartition}
    ordered = [f for f in fields if f[0] in parts] + [f for f in fields if f[0] not in parts]
    return [(c, _duck_type(t)) for c, t in ordered]


def _spark_months(spark, table: str) -> set[str]:
    return {str(r[0]) for r in spark.table(table).select("month").distinct().collect()}


def copy_to_duckdb(spark, build_db: Path, months: Collection[str] = (),
                   month_tables: Collection[str] = frozenset()) -> dict[str, int]:
    """Bring the DuckDB file `build_db` up to the Spark catalog's marts and audit tables: for a month-grain table
    (`month_tables`) already there with the same columns, only `months` (YYYY-MM-01) and any month present on one
    side only are replaced; every other table is copied whole. Rows go Spark -> Arrow -> DuckDB (no files between).
    Returns the rows per table."""
    from pyspark.sql import functions as F

    from dagster_project.domain import raw_load

    con = raw_load.connect(build_db)  # owner-only folder, UTC, as the DuckDB engine's build database
    counts = {}
    try:
        for table in spark_tables(spark):
            schema = table.split(".")[0]
            layout = _layout(spark, table)
            cols = [c for c, _ in layout]
            select = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in layout)
            existing = [(c, t) for c, t in con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index", table.split(".")).fetchall()]
            df = spark.table(table).select(*cols)
            if table in month_tables and existing == layout and "month" in cols:
                here = {str(m) for (m,) in con.execute(f"select distinct month from {table}").fetchall()}
                redo = sorted(set(months) | (_spark_months(spark, table) ^ here))
                arrow = df.where(F.col("month").isin(redo)).toArrow()  # noqa: F841 (read by DuckDB below)
                con.execute("begin")
                if redo:
                    marks = ", ".join("?" for _ in redo)
                    con.execute(f"delete from {table} where month in ({marks})", redo)
                con.execute(f"insert into {table} select {select} from arrow")
                con.execute("commit")
            else:
                arrow = df.toArrow()  # noqa: F841 (read by DuckDB below)
                con.execute(f"create schema if not exists {schema}")
                con.execute(f"create or replace table {table} as select {select} from arrow")
            counts[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return counts


# ---------------------------------------------------------------------------------------------------------------
# The engine (domain/engine.py)


class SparkEngine:
    """Raw views, dbt and the tables on Spark; the published warehouse and exports as on DuckDB."""

    name = "spark"

    def record_month(self, s: Settings, month: str) -> DeliveryRecord:
        return record_month(spark_session(s), s.raw_dir, month)

    def dbt_build(self, s: Settings, args: Sequence[str]) -> BuildResult:
        from dagster_project.domain.dbt_runner import dbt_build

        spark_session(s)  # dbt's getOrCreate() must find this session (key view, configuration)
        target = profile_target(s)
        # dbt-spark's session cursor calls SparkSession.builder.getOrCreate(): SPARK_REMOTE makes it the Connect one
        env = {"SPARK_REMOTE": s.spark_remote} if s.spark_remote else {}
        return dbt_build(args, env=env, profile_target=target, cache_name=f"spark-{target}")

    def publish(self, s: Settings, month: str, month_tables: Collection[str]) -> PublishResult:
        from dagster_project.domain.publish import publish, unpublished_months

        months = sorted({*unpublished_months(s.build_db), f"{month}-01"})
        copy_to_duckdb(spark_session(s), s.build_db, months, month_tables)
        return publish(s.build_db, s.warehouse, month, month_tables)

    def build_query(self, s: Settings, sql: str) -> list[tuple]:
        return [tuple(r) for r in spark_session(s).sql(sql).collect()]

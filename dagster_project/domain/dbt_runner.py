"""dbt in this process: the project parsed once per process, every month built against that parsed manifest.

A `dbt build` subprocess per month paid a Python start, dbt's imports, `dbt --version`, and a full parse each
month (dbt's partial parsing is keyed on --vars, and every month brings new ones): most of a small month's time.
Here dbt runs through `dbtRunner` in the calling process:

- The project is parsed without vars: the `required_var` macro gives typed placeholders at parse time, and
  nothing dbt resolves at parse time (config(), refs, sources, `enabled`) reads a var. The parsed Manifest is kept
  per process and reused until a file of the project changes (`newest_source_mtime`). Between processes, dbt's
  own partial parsing makes the first parse of a process cheap (its state lives in `target/in-process/<database>/`,
  replaced atomically).
- Each build gets that Manifest (`dbtRunner(manifest=...)`, dbt's documented reuse) and the month's `--vars`;
  dbt honours them when it renders each node's SQL at run time, with no parse. The manifest.json @dbt_assets
  reads comes from the same parse (`write_manifest_json`, called by `dbt_project.ensure_manifest` when the
  project changed).
- A build writes its compiled SQL to a temporary target folder under target/in-process/, removed when the build
  succeeds and kept (named in the error) when it fails; dbt's console log goes to sys.stdout as it is during the
  call (`fairuse run`: the month's log file); no dbt.log file, no run_results.json.
- What dbt bakes into the manifest at parse time from the profile is the database (catalog) name, which
  dbt-duckdb derives from the file name of FAIRUSE_BUILD_DB ("warehouse.build.duckdb" -> "warehouse"). Parsing
  uses a stand-in file of the same name under target/ (never opened), so one parse serves every build database
  of that name, and the profile seen by the parse never changes (partial parsing stays valid across processes).
- dbt reads FAIRUSE_BUILD_DB and FAIRUSE_DUCKDB_MEMORY_LIMIT with env_var() in profiles.yml (it copies the
  environment when an invocation starts), and the key plugin (domain/duckdb_key_plugin.py) reads FAIRUSE_HASH_KEY
  from os.environ when dbt opens a connection. dbtRunner takes no profile object (it renders profiles.yml itself),
  so they are set in os.environ around the invocation (`dbt_environment`) and restored after. A parse sees none
  of them but the stand-in path.
- dbt-duckdb keeps its DuckDB connection open after an invocation; it is closed here, so the publish step and
  the next month (same process) can open the build database.

Nothing here imports dbt at module level: importing the package stays cheap and side-effect free.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster_project.domain.settings import DBT_PROJECT_DIR

IN_PROCESS_DIR = DBT_PROJECT_DIR / "target" / "in-process"
# What the parse must not see: the run's values would change the profile (and so dbt's partial-parse state).
_PARSE_ENV_UNSET = ("FAIRUSE_HASH_KEY", "FAIRUSE_DUCKDB_MEMORY_LIMIT", "FAIRUSE_SPARK_REMOTE")


def newest_source_mtime() -> float:
    """The latest modification time of any file dbt parses (project, profile, models, macros, tests), or of
    their folders (a file removed or renamed changes its folder's)."""
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for sub in ("models", "macros", "tests"):
        paths += [DBT_PROJECT_DIR / sub, *(DBT_PROJECT_DIR / sub).rglob("*")]
    mtimes = []
    for p in paths:
        try:
            mtimes.append(p.stat().st_mtime)
        except FileNotFoundError:  # removed while we looked
            continue
    return max(mtimes)


class DbtParseError(RuntimeError):
    """`dbt parse` of the project failed; the message is dbt's."""


class DbtBuildError(RuntimeError):
    """A `dbt build` failed: the message names each failing model or test with dbt's error."""


@contextmanager
def dbt_environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) the variables dbt reads for the duration of one dbt invocation (dbt copies
    os.environ when it starts); the previous values are restored after."""
    saved = {k: os.environ.get(k) for k in variables}
    try:
        for k, v in variables.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt_database(build_db: Path) -> str:
    """The catalog name dbt-duckdb gives the build database (from its file name), baked into parsed nodes."""
    from dagster_project.private_apis import dbt_duckdb_database_name

    return dbt_duckdb_database_name(build_db)


def _common_args(target: Path, profile_target: str = "duckdb") -> list[str]:
    # Always an explicit profiles.yml output (the engine's: domain/engine.py), never FAIRUSE_ENGINE's default.
    return ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target", profile_target, "--target-path", str(target), "--log-path", str(target),
            "--log-level-file", "none", "--no-send-anonymous-usage-stats"]


# ---------------------------------------------------------------------------------------------------------------
# Parse once per process


@dataclasses.dataclass
class _Parsed:
    source_mtime: float
    manifest: Any  # dbt's Manifest, handed to every build of this process (dbt's documented reuse)
    manifest_json: bytes  # dbt's manifest.json of the same parse (what @dbt_assets reads)


_parsed: dict[str, _Parsed] = {}
_lock = threading.RLock()
parse_count = 0  # parses this process made (tests and benchmarks read it)


def _parse(database: str, profile_target: str = "duckdb") -> tuple[Any, bytes]:
    """`dbt parse` in this process, with dbt's partial-parse state of this database name carried over: the
    Manifest and its manifest.json."""
    from dbt.cli.main import dbtRunner

    global parse_count
    shared = IN_PROCESS_DIR / database
    shared.mkdir(parents=True, exist_ok=True)
    state = shared / "partial_parse.msgpack"
    tmp = Path(tempfile.mkdtemp(prefix=".parse-", dir=shared))
    try:
        if state.exists():
            shutil.copyfile(state, tmp / state.name)
        env: dict[str, str | None] = {"FAIRUSE_BUILD_DB": str(shared / f"{database}.build.duckdb")}
        env.update({k: None for k in _PARSE_ENV_UNSET})
        try:
            with dbt_environment(env):
                res = dbtRunner().invoke(["parse", *_common_args(tmp, profile_target), "--quiet"])
        finally:
            _release_streams()
        parse_count += 1
        if not res.success:
            _reraise_interrupt(res.exception)
            raise DbtParseError(f"dbt parse failed: {res.exception}")
        if (tmp / state.name).exists():
            os.replace(tmp / state.name, state)  # atomic: a concurrent process reads the old or the new state
        return res.result, (tmp / "manifest.json").read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _entry(database: str, force: bool, profile_target: str = "duckdb") -> _Parsed:
    """The parse of this database name, up to date with the project's files."""
    with _lock:
        mtime = newest_source_mtime()
        hit = _parsed.get(database)
        if not force and hit is not None and hit.source_mtime == mtime:
            return hit
        manifest, manifest_json = _parse(database, profile_target)
        _parsed[database] = _Parsed(mtime, manifest, manifest_json)
        return _parsed[database]


def parsed_manifest(database: str, force: bool = False, profile_target: str = "duckdb") -> Any:
    """The project's Manifest for builds on a database of this name: parsed once per process, again only when a
    file of the project changed (dbt's partial parsing makes a new process's parse cheap). Every build of the
    process gets this same object, as dbt documents for `dbtRunner(manifest=...)`: a build compiles each node it
    runs again with its own vars (the project has no ephemeral model whose injected SQL could carry over)."""
    return _entry(database, force, profile_target).manifest


def write_manifest_json(database: str, path: Path, force: bool = False) -> None:
    """Write the manifest.json of the current parse (what @dbt_assets reads) atomically: readers see the old or
    the new file."""
    entry = _entry(database, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(entry.manifest_json)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# Build


@dataclasses.dataclass(frozen=True)
class NodeResult:
    """One node of a dbt build, in plain values."""

    unique_id: str
    resource_type: str  # model, test, seed, snapshot
    name: str
    path: str  # the file that defines it, relative to the project
    materialized: str | None
    status: str  # models: success, error, skipped; tests: pass, fail, warn, error, skipped
    message: str | None
    execution_time: float
    failures: int | None  # failing rows of a test
    rows_affected: int | None  # when the adapter reports it (dbt-duckdb does not)

    @property
    def is_model(self) -> bool:
        return self.resource_type in ("model", "seed", "snapshot") and self.materialized != "ephemeral"

    @property
    def failed(self) -> bool:
        return self.status in ("error", "fail")

    def describe(self) -> str:
        return f"{self.resource_type} {self.name} ({self.path}): {(self.message or self.status).strip()}"


@dataclasses.dataclass
class BuildResult:
    success: bool
    nodes: list[NodeResult]
    invocation_id: str | None
    seconds: float
    manifest_seconds: float  # getting the parsed Manifest (from this process's parse: nothing)
    parsed: bool  # whether dbt parsed the project for this build (first build after a change of its files)
    exception: str | None = None  # dbt's error when it failed outside any node (compilation of the graph, ...)
    kept_target: Path | None = None  # compiled SQL of a failed build, kept for inspection

    def error_message(self, what: str = "dbt build") -> str:
        lines = [n.describe() for n in self.nodes if n.failed]
        if self.exception:
            lines.append(self.exception.strip())
        skipped = sum(n.status == "skipped" for n in self.nodes)
        if skipped:
            lines.append(f"{skipped} node(s) skipped after the failure")
        if self.kept_target:
            lines.append(f"compiled SQL: {self.kept_target}")
        return f"{what} failed:\n" + "\n".join(f"  {line}" for line in lines or ["(no detail from dbt)"])


@dataclasses.dataclass(frozen=True)
class NodeEvent:
    """A node of a running dbt build starting or finishing (from dbt's structured events), in plain values."""

    kind: str  # "start" | "finish"
    unique_id: str
    name: str
    resource_type: str  # model, test, seed, snapshot
    index: int  # the node's position in the build (1-based; 0 when dbt gave none)
    total: int  # nodes in the build
    status: str = ""  # finish: success, error, skipped, pass, fail, warn
    seconds: float = 0.0  # finish: the node's execution time


_node_watchers: list[Callable[[NodeEvent], None]] = []


@contextmanager
def watch_nodes(callback: Callable[[NodeEvent], None]) -> Iterator[None]:
    """Call `callback` with a NodeEvent as each node of the dbt builds started in this process (any thread) starts
    and finishes, while the block runs: `fairuse run`'s live progress."""
    _node_watchers.append(callback)
    try:
        yield
    finally:
        _node_watchers.remove(callback)


class _NodeEvents:
    """dbtRunner's callback: dbt's LogStartLine (position in the build) and NodeFinished events as NodeEvents."""

    def __init__(self, watchers: Sequence[Callable[[NodeEvent], None]]):
        self.watchers = list(watchers)
        self.position: dict[str, tuple[int, int]] = {}  # unique id -> (index, total)

    def __call__(self, msg: Any) -> None:
        name = msg.info.name
        if name not in ("LogStartLine", "NodeFinished"):
            return
        info = msg.data.node_info
        if name == "LogStartLine":
            self.position[info.unique_id] = (msg.data.index, msg.data.total)
            event = NodeEvent("start", info.unique_id, info.node_name, info.resource_type, msg.data.index,
                              msg.data.total)
        else:
            index, total = self.position.get(info.unique_id, (0, 0))
            result = msg.data.run_result
            event = NodeEvent("finish", info.unique_id, info.node_name, info.resource_type, index, total,
                              status=result.status or info.node_status, seconds=float(result.execution_time or 0))
        for watch in self.watchers:
            watch(event)


def _reraise_interrupt(exc: BaseException | None) -> None:
    """dbtRunner returns every exception, interrupts included; those must go on (run termination, Ctrl-C)."""
    if exc is not None and not isinstance(exc, Exception):
        raise exc


def _close_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open after an invocation; close it so that this process (publish, the
    next month) can open the build database again, with any configuration."""
    from dagster_project.private_apis import close_dbt_duckdb

    close_dbt_duckdb()


def _release_streams() -> None:
    """dbt's console logger keeps the stream it was given (`fairuse run`: the month's log file, closed after the
    month); drop it after each invocation, as dbt's own tests do."""
    from dbt_common.events.event_manager_client import cleanup_event_logger

    cleanup_event_logger()


def _prune_kept_targets(max_age_seconds: float = 7 * 24 * 3600) -> None:
    """Compiled SQL kept from failed builds (or left by a killed process) goes after a week."""
    cutoff = time.time() - max_age_seconds
    for old in IN_PROCESS_DIR.glob("build-*"):
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            continue


def _node_result(r: Any) -> NodeResult:
    node = r.node
    response = r.adapter_response or {}
    config = getattr(node, "config", None)
    return NodeResult(
        unique_id=node.unique_id,
        resource_type=str(node.resource_type),
        name=node.name,
        path=node.original_file_path,
        materialized=getattr(config, "materialized", None),
        status=str(r.status),
        message=r.message,
        execution_time=float(r.execution_time or 0.0),
        failures=r.failures,
        rows_affected=response.get("rows_affected") if isinstance(response, Mapping) else None,
    )


def dbt_build(args: Sequence[str], env: Mapping[str, str], build_db: Path | None = None, *,
              profile_target: str = "duckdb", cache_name: str | None = None) -> BuildResult:
    """Run `dbt <args>` (a build) in this process against the cached parsed manifest, with `env` set for dbt.

    `profile_target` is the profiles.yml output (the engine's); the parsed manifest is cached per `cache_name`
    (default: the DuckDB catalog name of `build_db`; the Spark engine names its own, since what dbt bakes into the
    manifest from the profile differs per output).
    dbt's console log (one line per node) goes to sys.stdout as it is at the call: `fairuse run` points it at the
    month's log file, a Dagster run at the step's captured stdout."""
    from dbt.cli.main import dbtRunner

    t0 = time.perf_counter()
    database = cache_name or dbt_database(build_db)
    before = parse_count
    manifest = parsed_manifest(database, profile_target=profile_target)
    manifest_seconds, parsed = time.perf_counter() - t0, parse_count != before
    IN_PROCESS_DIR.mkdir(parents=True, exist_ok=True)
    _prune_kept_targets()
    target = Path(tempfile.mkdtemp(prefix="build-", dir=IN_PROCESS_DIR))
    try:
        with dbt_environment(env):
            callbacks = [_NodeEvents(_node_watchers)] if _node_watchers else []
            res = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(
                [*args, *_common_args(target, profile_target), "--no-write-json", "--no-use-colors"])
    finally:
        _close_duckdb()
        _release_streams()
    _reraise_interrupt(res.exception)
    run = res.result
    nodes = [_node_result(r) for r in getattr(run, "results", None) or []]
    invocation_id = None
    if run is not None and getattr(run, "args", None) is not None:
        invocation_id = (getattr(run, "args", {}) or {}).get("invocation_id")
    if invocation_id is None:
        from dbt_common.invocation import get_invocation_id

        invocation_id = get_invocation_id()
    success = bool(res.success) and not any(n.failed for n in nodes)
    exception = None if res.exception is None else f"{type(res.exception).__name__}: {res.exception}"
    if success:
        shutil.rmtree(target, ignore_errors=True)
    return BuildResult(success=success, nodes=nodes, invocation_id=invocation_id, seconds=time.perf_counter() - t0,
                       manifest_seconds=manifest_seconds, parsed=parsed, exception=exception,
                       kept_target=None if success else target)

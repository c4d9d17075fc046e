"""Dagster's SQLite event log, without an fsync per event (named in dagster_home.yaml as the instance's
`event_log_storage`).

A month's run writes ~160 events (one per step start, output and materialization of each of ~40 assets, check
results...), asset events twice (the run's file and the index). Dagster's SqliteEventLogStorage commits each one
in SQLite's default `synchronous=FULL` mode: two fsyncs, ~12 ms on these disks, 3-4 s of a demo month's ~10.
This storage is Dagster's own, connecting with `synchronous=OFF`: SQLite still journals every transaction, so a
killed process (kill -9, a crash) loses nothing it committed and never leaves a torn file; what it gives up is
durability against the operating system crashing or the power failing in the seconds after a write (the run
history, not the warehouse: the warehouse is DuckDB, published by file swap). Everything else is Dagster's: the
journal mode it sets (WAL; each connection's close checkpoints into the run's file, which the UI's live view of a
run watches), one connection per write, the files' layout.

It also keeps one SQLAlchemy engine per file (the run's, the index) instead of creating and disposing of one
for every write: Dagster's `_connect` does that ~250 times a month, and each new engine runs SQLAlchemy's
first-connect dialect set-up (storing a demo month's 168 events: 0.70 s -> 0.43-0.54 s). The engines use no
pool (NullPool): every write still opens its own connection and closes it, so the WAL is checkpointed into the
run's file after each write as before (what the UI's live view watches), and no connection outlives a write. At
most ENGINES_KEPT engines are kept (a long-lived process, the webserver, reads many runs).

`base_dir` defaults to Dagster's own location, `$DAGSTER_HOME/history/runs`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._config import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


ENGINES_KEPT = 16


class UnsyncedSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose connections commit without fsync, one engine per file (the module's
    docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # shard -> engine, most recently used last
        super().__init__(base_dir=base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine (called under `_db_lock`)."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _no_fsync)
            self._engines[shard] = engine
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> UnsyncedSqliteEventLogStorage:
        base_dir = config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir=base_dir, inst_data=inst_data)

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # SqliteEventLogStorage._connect, with the listener and the shard's engine kept.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

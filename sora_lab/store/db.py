"""Open a lab's DuckDB file, run migrations, hand out cursors.

DuckDB lets one process own a file; inside that process a connection is not
thread-safe, so every thread works through its own `cursor()`. Writes are
serialised by one lock: the lab's write rate is small per request and a single
writer avoids optimistic-concurrency conflicts on counters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sora_lab.core.errors import SchemaError, ServerBusy
from sora_lab.store.schema import MIGRATIONS, SCHEMA_VERSION

DB_FILENAME = "lab.duckdb"


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, table) -> Iterator[str]:
    """An Arrow table visible to SQL as `name` for the block: bulk rows without per-value conversion."""
    cur.complete()  # DuckDB refuses register() while an earlier execute() result (e.g. an INSERT's) is open
    cur.register(name, table)
    try:
        yield name
    finally:
        try:
            cur.unregister(name)
        except duckdb.TransactionException:
            pass  # a statement failed and aborted the transaction; the view goes with its cursor


CHECKPOINT_THRESHOLD = "256MB"


class Store:
    """The lab's database: one DuckDB connection owned by this process."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None):
        self._con = con
        self.path = path
        self._write_lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str | None) -> Store:
        """Open (creating if needed) and migrate. `None` gives an in-memory store for tests."""
        if path is None:
            con = duckdb.connect(":memory:")
        else:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                con = duckdb.connect(str(path))
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    raise ServerBusy(
                        f"lab file {path} is held by another process (a running `sora-lab serve`?); "
                        "connect through that server (Lab.connect / --server URL) or stop it first"
                    ) from exc
                raise
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB merges its write-ahead log into the file every 16 MB by default, and each merge
        # rewrites the key indexes of the big tables (client ids, likes): at a million videos that
        # halved batched ingest (~50 k events/s against ~85 k). Fewer, larger merges cost the same
        # per merge; the price is a longer log replay after a crash (seconds).
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        store = cls(con, path)
        store.migrate()
        return store

    def migrate(self) -> int:
        """Apply pending migrations; refuse a file from a newer version of the code."""
        with self._write_lock:
            con = self._con
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
            current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise SchemaError(
                    f"lab file {self.path} has schema version {current}, but this sora_lab knows only up to "
                    f"{SCHEMA_VERSION}; upgrade sora_lab (pip install -U sora_lab) or use a different SORA_LAB_HOME"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                con.execute("BEGIN TRANSACTION")
                try:
                    for statement in MIGRATIONS[version - 1]:
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
                    con.execute("COMMIT")
                except Exception:
                    con.execute("ROLLBACK")
                    raise
            return SCHEMA_VERSION

    def schema_version(self) -> int:
        with self.read() as cur:
            return cur.execute("SELECT max(version) FROM schema_version").fetchone()[0]

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for this thread; consume results before leaving the block."""
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction, serialised with every other writer in this process."""
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def checkpoint(self) -> None:
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with self._write_lock:
            self._con.close()

"""The DuckDB store: migrations, schema guard, one owner process per file."""

import subprocess
import sys
import textwrap

import duckdb
import pytest

from sora_lab.core.errors import SchemaError, ServerBusy
from sora_lab.store import schema
from sora_lab.store.db import DB_FILENAME, Store

EXPECTED_TABLES = {
    "users", "invites", "follows", "cameos", "cameo_grants", "videos", "video_cameos", "rights_holders",
    "rights_policies", "likes", "comments", "events", "client_events", "external_series", "settings",
    "schema_version",
}


def test_open_creates_every_table_at_current_version(home):
    store = Store.open(home / DB_FILENAME)
    with store.read() as cur:
        tables = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert EXPECTED_TABLES <= tables
    assert store.schema_version() == schema.SCHEMA_VERSION
    store.close()


def test_reopen_does_not_rerun_migrations(home):
    Store.open(home / DB_FILENAME).close()
    store = Store.open(home / DB_FILENAME)
    with store.read() as cur:
        rows = cur.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, schema.SCHEMA_VERSION + 1))
    store.close()


def test_file_from_newer_code_is_refused_with_a_clear_message(home):
    path = home / DB_FILENAME
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [schema.SCHEMA_VERSION + 5])
    con.close()
    with pytest.raises(SchemaError, match=r"schema version \d+.*upgrade sora_lab"):
        Store.open(path)


def test_failed_migration_rolls_back_and_keeps_data(home, monkeypatch):
    path = home / DB_FILENAME
    store = Store.open(path)
    with store.write() as cur:
        cur.execute("INSERT INTO settings VALUES ('keep', '1')")
    store.close()
    broken = ["CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"]
    monkeypatch.setattr("sora_lab.store.db.MIGRATIONS", [*schema.MIGRATIONS, broken])
    monkeypatch.setattr("sora_lab.store.db.SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with pytest.raises(duckdb.Error):
        Store.open(path)
    monkeypatch.undo()
    store = Store.open(path)
    with store.read() as cur:
        tables = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        kept = cur.execute("SELECT value FROM settings WHERE key = 'keep'").fetchone()
    assert "half_done" not in tables
    assert kept is not None
    assert store.schema_version() == schema.SCHEMA_VERSION
    store.close()


def test_second_process_gets_a_clear_busy_error(home):
    path = home / DB_FILENAME
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from sora_lab.store.db import Store
            s = Store.open({str(path)!r})
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ServerBusy, match="held by another process"):
            Store.open(path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_write_rolls_back_on_error(home):
    store = Store.open(home / DB_FILENAME)
    with pytest.raises(RuntimeError):
        with store.write() as cur:
            cur.execute("INSERT INTO settings VALUES ('x', '1')")
            raise RuntimeError("boom")
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM settings WHERE key = 'x'").fetchone()[0] == 0
    store.close()

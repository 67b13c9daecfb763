"""The lab's DuckDB file: schema, migrations, the locked connection and the events log."""

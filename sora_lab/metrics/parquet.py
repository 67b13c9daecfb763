"""The growth summary over exported Parquet (a folder or a URL), with DuckDB and the lab's own SQL.

`summary` opens the files of the chosen sources (written by `sora-lab metrics export`) as a view named
`events` in a private in-memory DuckDB and runs `queries.compute_raw` over it: the same definitions
(definitions.py) and the same numpy roll-ups as in the lab, so the result equals the lab's summary
of the same events. No lab is opened. A local folder (or file:// URL) is read by DuckDB's own Parquet
reader; any other URL goes through fsspec (http(s):// needs aiohttp, s3:// s3fs, gs:// gcsfs) and a
pyarrow dataset, which DuckDB scans with the filters pushed down.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from sora_lab.core.errors import InputError
from sora_lab.metrics import queries
from sora_lab.metrics.export import partition


def summary(location: str, *, sources: list[str] | str | None = None, start: str | None = None,
            end: str | None = None, regions: list[str] | str | None = None, threads: int | None = None,
            memory_limit: str | None = None) -> dict:
    """Every growth metric over the exported events of `sources` (default: live), as the lab computes it."""
    filters = queries.make_filters(sources, start, end, regions)
    con = connect(location, filters.sources, threads=threads, memory_limit=memory_limit)
    try:
        result = queries.compute_raw(con, filters)
    except duckdb.Error as exc:  # a damaged or foreign file under the folder
        first = str(exc).splitlines()[0]
        raise InputError(f"parquet: cannot read the files under {location}: {first}") from None
    finally:
        con.close()
    result["path"] = "parquet"
    result["location"] = location
    return result


def connect(location: str, sources: tuple[str, ...], *, threads: int | None = None,
            memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose view `events` is the exported events of `sources` under `location`."""
    if not isinstance(location, str) or not location.strip():
        raise InputError("parquet: give the exported folder or its URL, e.g. exports/events")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # stdout/stderr carry the result and one-line errors only
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    try:
        if "://" not in location or location.startswith("file://"):
            _local_view(con, location.removeprefix("file://"), sources)
        else:
            _remote_view(con, location, sources)
    except BaseException:
        con.close()
        raise
    return con


def _local_view(con, folder: str, sources: tuple[str, ...]) -> None:
    root = Path(folder).expanduser()
    files = sorted(str(f) for source in sources for f in root.glob(f"{partition(source)}/day=*/*.parquet"))
    if not files:
        raise InputError(f"parquet: no exported events of {', '.join(sources)} under {folder}; "
                         f"run `sora-lab metrics export {folder}` first")
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)  # a view cannot take parameters
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                "hive_types = {'source': VARCHAR, 'day': DATE})")


def _remote_view(con, url: str, sources: tuple[str, ...]) -> None:
    import fsspec
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(f"parquet: cannot read {url}: {exc}") from None
    base = root.rstrip("/")
    files = sorted(f for source in sources for f in fs.glob(f"{base}/{partition(source)}/day=*/*.parquet"))
    if not files:
        raise InputError(f"parquet: no exported events of {', '.join(sources)} under {url}")
    layout = ds.partitioning(pa.schema([("source", pa.string()), ("day", pa.date32())]), flavor="hive")
    con.register("events", ds.dataset(files, filesystem=fs, format="parquet", partitioning=layout,
                                      partition_base_dir=base))

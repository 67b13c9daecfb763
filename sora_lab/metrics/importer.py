"""Daily series from CSV or Parquet (date, metric, value, source[, app]) into `external_series`.

Files are read where the command runs (the CLI's machine); only validated rows travel to the lab,
so the same path works embedded and through a server. Every row is checked before anything is
stored: one bad cell refuses the whole file, naming the row, the column and the fix.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sora_lab.core.errors import InputError

REQUIRED = ("date", "metric", "value", "source")
METRIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ROWS = 100_000


def read_series_file(path: str | Path) -> list[dict]:
    """Rows of a .csv or .parquet file as dicts with string cells (validated later by `validate_rows`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a .csv or .parquet with columns {', '.join(REQUIRED)}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in (*REQUIRED, "app")})
            )
        elif suffix in (".parquet", ".pq"):
            table = pq.read_table(path)
        else:
            raise InputError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot be read as {suffix[1:]} ({exc})") from None
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: column {missing[0]!r} is missing; the file needs columns {', '.join(REQUIRED)} "
            f"(found: {', '.join(table.column_names) or 'none'})"
        )
    return [{k: (None if v is None else str(v)) for k, v in row.items()} for row in table.to_pylist()]


def validate_rows(rows: list, default_app: str = "Sora") -> list[dict]:
    """Clean rows or an InputError naming the first bad row (1-based, as in a spreadsheet after the header)."""
    if not isinstance(rows, list) or not rows:
        raise InputError("rows: give a non-empty list of {date, metric, value, source} objects")
    if len(rows) > MAX_ROWS:
        raise InputError(f"rows: {len(rows)} rows is more than {MAX_ROWS}; split the file")
    cleaned, seen = [], {}
    for i, row in enumerate(rows, start=1):
        where = f"row {i}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected an object with date, metric, value, source")
        for column in REQUIRED:
            if row.get(column) in (None, ""):
                raise InputError(f"{where}: column {column!r} is empty; every row needs {', '.join(REQUIRED)}")
        try:
            day = date.fromisoformat(str(row["date"]).strip()[:10])
        except ValueError:
            raise InputError(f"{where}: column 'date' = {row['date']!r} is not a date; use YYYY-MM-DD") from None
        metric = str(row["metric"]).strip().lower()
        if not METRIC_RE.match(metric):
            raise InputError(
                f"{where}: column 'metric' = {row['metric']!r} is not a metric name; use lower-case words joined "
                "by '_', e.g. downloads or daily_active_users"
            )
        value = _integer(row["value"], where)
        source = str(row["source"]).strip()
        if len(source) > 200:
            raise InputError(f"{where}: column 'source' is longer than 200 characters; shorten it")
        app = str(row.get("app") or default_app).strip()
        key = (day, app, metric, source)
        if key in seen:
            raise InputError(f"{where}: duplicates row {seen[key]} (same date, app, metric and source); keep one")
        seen[key] = i
        cleaned.append({"day": day.isoformat(), "app": app, "metric": metric, "value": value, "source": source})
    return cleaned


def _integer(raw, where: str) -> int:
    text = str(raw).strip().replace(",", "").replace("_", "")
    try:
        number = float(text)
    except ValueError:
        raise InputError(
            f"{where}: column 'value' = {raw!r} is not a number; use a plain count such as 110000"
        ) from None
    if number != number or number < 0 or number != int(number):
        raise InputError(f"{where}: column 'value' = {raw!r} must be a whole number >= 0 (counts are integers)")
    return int(number)

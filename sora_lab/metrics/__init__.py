"""Growth metrics over the `events` table: downloads are not users.

- `queries`     — the metric definitions (SQL over DuckDB, small numpy roll-ups).
- `simulate`    — an agent-based invite-only launch that writes ordinary events.
- `reference`   — public launch figures (with sources) and the calibration fit.
- `importer`    — read daily series from CSV/Parquet into `external_series`.
- `service`     — the `lab.metrics.*` operations; `charts` — Altair charts.
"""

from sora_lab.metrics.queries import ACTIVE_TYPES, ACTIVE_USER_DEFINITION

__all__ = ["ACTIVE_TYPES", "ACTIVE_USER_DEFINITION"]

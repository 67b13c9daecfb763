"""Growth metrics over the `events` table: downloads are not users.

- `queries`     — which events count (filters) and the summary from raw events or the rollup.
- `summary`     — daily series, totals, funnel and regions; `retention`, `invites` and `bitmasks`
                  hold cohort retention, the invite tree and the per-user day bitmasks they share.
- `rollup`      — per-user rollup tables of bulk-written (simulated) sources.
- `simulate`    — an agent-based invite-only launch that writes ordinary events.
- `reference`   — public launch figures (with sources) and the calibration fit.
- `importer`    — read daily series from CSV/Parquet into `external_series`.
- `service`     — the `lab.metrics.*` operations; `charts` — Altair charts.
"""

from sora_lab.metrics.queries import ACTIVE_TYPES, ACTIVE_USER_DEFINITION

__all__ = ["ACTIVE_TYPES", "ACTIVE_USER_DEFINITION"]

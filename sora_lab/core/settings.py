"""Lab-wide settings, stored in the lab's `settings` table so the server and
every embedded user of a lab home agree on them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from sora_lab.core.errors import InputError
from sora_lab.store.db import Store


@dataclass
class LabSettings:
    invites_per_user: int = 4
    # Invite-only launch regions (ISO 3166-1 alpha-2); empty list = open everywhere.
    allowed_regions: list[str] = field(default_factory=lambda: ["US", "CA"])
    # No invite needed (the anchor opened up for a limited time a month after launch).
    invite_required: bool = True
    daily_generation_limit: int = 30

    def validate(self) -> None:
        if not 0 <= self.invites_per_user <= 1000:
            raise InputError("invites_per_user must be between 0 and 1000")
        if self.daily_generation_limit < 0:
            raise InputError("daily_generation_limit must be >= 0")
        for region in self.allowed_regions:
            if not (isinstance(region, str) and len(region) == 2 and region.isalpha() and region.isupper()):
                raise InputError(f"allowed_regions: {region!r} is not a two-letter upper-case country code")


def load_settings(store: Store) -> LabSettings:
    with store.read() as cur:
        rows = cur.execute("SELECT key, value FROM settings").fetchall()
    known = {f.name for f in fields(LabSettings)}
    values = {key: json.loads(value) for key, value in rows if key in known}
    return LabSettings(**values)


def save_settings(store: Store, settings: LabSettings) -> None:
    settings.validate()
    with store.write() as cur:
        for key, value in asdict(settings).items():
            cur.execute(
                "INSERT OR REPLACE INTO settings VALUES (?, ?)",
                [key, json.dumps(value)],
            )


def update_settings(store: Store, **changes) -> LabSettings:
    current = asdict(load_settings(store))
    unknown = set(changes) - set(current)
    if unknown:
        raise InputError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(current))}")
    current.update(changes)
    settings = LabSettings(**current)
    save_settings(store, settings)
    return settings

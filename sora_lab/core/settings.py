"""Lab-wide settings, stored in the lab's `settings` table so the server and
every embedded user of a lab home agree on them.

`sora-lab settings get|set KEY VALUE` reads and changes them from the shell
(`parse_setting` turns the typed text into the setting's type).
"""

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
    # A person cameo must come from a clip that passes the liveness challenge, not a photo.
    # Turn off only for demos and workshops: a photo of someone else's face is then enough.
    cameo_liveness_required: bool = True

    def validate(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), _KINDS[f.name])
        if not 0 <= self.invites_per_user <= 1000:
            raise InputError("invites_per_user must be between 0 and 1000")
        if not 0 <= self.daily_generation_limit <= 1_000_000:
            raise InputError("daily_generation_limit must be between 0 and 1000000")
        for region in self.allowed_regions:
            if not (len(region) == 2 and region.isascii() and region.isalpha() and region.isupper()):
                raise InputError(f"allowed_regions: {region!r} is not a two-letter upper-case country code")


_KINDS = {"invites_per_user": int, "allowed_regions": list, "invite_required": bool, "daily_generation_limit": int,
          "cameo_liveness_required": bool}
"""Each setting's JSON type: what `validate` checks and `parse_setting` reads."""


def _check_type(key: str, value: object, kind: type) -> None:
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise InputError(f"{key} must be a whole number, e.g. {key}=10")
    if kind is bool and not isinstance(value, bool):
        raise InputError(f"{key} must be true or false")
    if kind is list and (not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 300):
        raise InputError(f"{key} must be a list of codes, e.g. [\"US\", \"CA\"] (or US,CA on the command line)")


def parse_setting(key: str, text: str) -> object:
    """The value typed on a command line as the setting's type: 'false' -> False, '12' -> 12, 'US,CA' -> [...]."""
    kind = _KINDS.get(key)
    if kind is None:
        raise InputError(f"unknown setting {key!r}; known: {', '.join(sorted(_KINDS))}")
    raw = text.strip()
    if kind is bool:
        words = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}
        if raw.lower() not in words:
            raise InputError(f"{key} must be true or false, got {text!r}")
        return words[raw.lower()]
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise InputError(f"{key} must be a whole number, got {text!r}") from None
    if raw.startswith("["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise InputError(f"{key}: {text!r} is not a JSON list; write it as US,CA") from None
    return [part.strip() for part in raw.split(",") if part.strip()]


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

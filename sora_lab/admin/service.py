"""Operator tasks: settings, demo seeding, table counts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from sora_lab.accounts.service import AccountService
from sora_lab.admin.demo import seed_people
from sora_lab.core.settings import load_settings, update_settings
from sora_lab.feed.engagement import EngagementService
from sora_lab.store.db import Store

_COUNTED_TABLES = ("users", "invites", "follows", "cameos", "videos", "likes", "comments", "events")


class AdminService:
    def __init__(self, store: Store, home: Path, *, accounts: AccountService, engagement: EngagementService):
        self.store = store
        self.home = home
        self.accounts = accounts
        self.engagement = engagement

    def settings(self) -> dict:
        return asdict(load_settings(self.store))

    def update_settings(self, *, changes: dict) -> dict:
        return asdict(update_settings(self.store, **changes))

    def stats(self) -> dict:
        with self.store.read() as cur:
            counts = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _COUNTED_TABLES}
            version = cur.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        return {"schema_version": version, "rows": counts, "home": str(self.home)}

    def seed_demo(self) -> dict:
        """The demo people and follows (not clips: `make demo` adds those)."""
        return seed_people(self.store, self.home, self.accounts, self.engagement)

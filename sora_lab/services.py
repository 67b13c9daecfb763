"""All of a lab's services over one Store, built on first use.

Heavy services (those that load models) are created lazily so opening a lab
to like a video does not load a text encoder.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from sora_lab.accounts import AccountService
from sora_lab.admin import AdminService
from sora_lab.engagement import EngagementService
from sora_lab.store.db import Store


class Services:
    def __init__(self, store: Store, home: Path):
        self.store = store
        self.home = home

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.store)

    @cached_property
    def engagement(self) -> EngagementService:
        return EngagementService(self.store)

    @cached_property
    def admin(self) -> AdminService:
        return AdminService(self.store, self.home)

    # --- videos (generation pipeline) ---
    # --- cameos and policy ---
    # --- feed ---
    # --- metrics ---

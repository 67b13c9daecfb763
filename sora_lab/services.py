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
    @cached_property
    def videos(self):
        from sora_lab.videos import VideoService

        return VideoService(self)

    # --- cameos and policy ---
    @cached_property
    def cameos(self):
        from sora_lab.cameo import CameoService

        return CameoService(self.store, self.home)

    @cached_property
    def policy(self):
        from sora_lab.policy import PolicyService

        return PolicyService(self.store, self.home)

    @cached_property
    def rights(self):
        from sora_lab.rights import RightsService

        return RightsService(self.store, self.home)

    # --- feed ---
    @cached_property
    def feed(self):
        from sora_lab.feed import FeedService

        return FeedService(self.store, self.home)

    # --- metrics ---
    @cached_property
    def metrics(self):
        from sora_lab.metrics.service import MetricsService

        return MetricsService(self.store, self.home)

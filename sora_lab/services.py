"""All of a lab's services over one Store, built on first use.

Heavy services (those that load models) are created lazily so opening a lab
to like a video does not load a text encoder. The server calls services from
many threads at once, so each one is built under a lock: exactly one instance
per lab, even when the first two requests race for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sora_lab.accounts import AccountService
from sora_lab.admin import AdminService
from sora_lab.engagement import EngagementService
from sora_lab.store.db import Store


class service:  # noqa: N801  (used like functools.cached_property)
    """A cached property whose factory runs once per instance, whatever the thread count."""

    _lock = threading.RLock()  # services build each other (videos -> policy), hence re-entrant

    def __init__(self, factory):
        self.factory = factory
        self.name = factory.__name__
        self.__doc__ = factory.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with self._lock:
            if self.name not in instance.__dict__:
                instance.__dict__[self.name] = self.factory(instance)
        return instance.__dict__[self.name]


class Services:
    def __init__(self, store: Store, home: Path):
        self.store = store
        self.home = home

    @service
    def accounts(self) -> AccountService:
        return AccountService(self.store)

    @service
    def engagement(self) -> EngagementService:
        return EngagementService(self.store)

    @service
    def admin(self) -> AdminService:
        return AdminService(self.store, self.home)

    # --- videos (generation pipeline) ---
    @service
    def videos(self):
        from sora_lab.videos import VideoService

        return VideoService(self)

    # --- cameos and policy ---
    @service
    def cameos(self):
        from sora_lab.cameo import CameoService

        return CameoService(self.store, self.home)

    @service
    def policy(self):
        from sora_lab.policy import PolicyService

        return PolicyService(self.store, self.home)

    @service
    def rights(self):
        from sora_lab.rights import RightsService

        return RightsService(self.store, self.home)

    # --- feed ---
    @service
    def feed(self):
        from sora_lab.feed import FeedService

        return FeedService(self.store, self.home)

    # --- metrics ---
    @service
    def metrics(self):
        from sora_lab.metrics.service import MetricsService

        return MetricsService(self.store, self.home)

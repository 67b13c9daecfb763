"""The one wiring place: every service of a lab over one Store, each given exactly what it uses.

Services are built on first use, so opening a lab to like a video does not load a text
encoder. The server calls services from many threads at once, so each one is built under a
lock: exactly one instance per lab, even when the first two requests race for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sora_lab.store.db import DB_FILENAME, Store


class service:  # noqa: N801  (used like functools.cached_property)
    """A cached property whose factory runs once per instance, whatever the thread count."""

    _lock = threading.RLock()  # services are built from each other (videos -> policy), hence re-entrant

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
    """A lab's services. `Services.open(home)` owns the DuckDB file until `close()`."""

    def __init__(self, store: Store, home: Path, *, executor=None):
        """executor: where renders run (sora_lab.videos.executors); None: worker threads in this process."""
        self.store = store
        self.home = Path(home)
        self.executor = executor

    @classmethod
    def open(cls, home: Path) -> Services:
        """Open (create, migrate) the lab file under `home`; this process then owns it."""
        home = Path(home)
        return cls(Store.open(home / DB_FILENAME), home)

    def close(self) -> None:
        self.store.close()

    @service
    def accounts(self):
        from sora_lab.accounts.service import AccountService

        return AccountService(self.store)

    @service
    def signin(self):
        from sora_lab.accounts.signin import SignInService

        return SignInService(self.store, self.accounts)

    @service
    def workshop(self):
        from sora_lab.admin.workshop import WorkshopService

        return WorkshopService(self.store, self.accounts)

    @service
    def engagement(self):
        from sora_lab.feed.engagement import EngagementService

        return EngagementService(self.store)

    @service
    def admin(self):
        from sora_lab.admin.service import AdminService

        return AdminService(self.store, self.home, accounts=self.accounts, engagement=self.engagement)

    @service
    def videos(self):
        from sora_lab.videos.service import VideoService

        return VideoService(self.store, self.home, policy=self.policy, cameos=self.cameos, executor=self.executor)

    @service
    def cameos(self):
        from sora_lab.consent.cameos import CameoService

        return CameoService(self.store, self.home)

    @service
    def policy(self):
        from sora_lab.policy.service import PolicyService

        return PolicyService(self.store, self.home, rights=self.rights)

    @service
    def rights(self):
        from sora_lab.consent.rights import RightsService

        return RightsService(self.store, self.home)

    @service
    def feed(self):
        from sora_lab.feed.service import FeedService

        return FeedService(self.store, self.home)

    @service
    def provenance(self):
        from sora_lab.provenance.trace import TraceService

        return TraceService(self.store, self.home)

    @service
    def metrics(self):
        from sora_lab.metrics.service import MetricsService

        return MetricsService(self.store, self.home)

"""A small demo world so a fresh lab has people, follows and an invite tree.

Seeding is idempotent: it runs only on a lab with no demo users yet. Clips are
added by the generation step of `make demo` once a generator is available.
"""

from __future__ import annotations

from pathlib import Path

from sora_lab.accounts import AccountService
from sora_lab.engagement import EngagementService
from sora_lab.home import save_credential
from sora_lab.store.db import Store

# (handle, region, invited by) — an invite tree three levels deep.
DEMO_PEOPLE = [
    ("maya", "US", "lab"),
    ("theo", "CA", "maya"),
    ("priya", "US", "maya"),
    ("jonas", "US", "theo"),
    ("lena", "CA", "priya"),
]
DEMO_FOLLOWS = [
    ("theo", "maya"), ("priya", "maya"), ("maya", "theo"), ("jonas", "theo"), ("lena", "priya"), ("maya", "lena"),
]


def seed_demo(store: Store, home: Path) -> dict:
    """Create the demo people (tokens saved to the home's credentials) unless they exist."""
    accounts = AccountService(store)
    with store.read() as cur:
        existing = {r[0] for r in cur.execute("SELECT handle FROM users").fetchall()}
    if "lab" not in existing:
        admin = accounts.create_admin(handle="lab")
        save_credential(home, "lab", admin["token"])
    if DEMO_PEOPLE[0][0] in existing:
        return {"seeded": False, "users": len(existing)}
    ids = {"lab": accounts.by_handle("lab").user_id}
    for handle, region, inviter in DEMO_PEOPLE:
        code = accounts.invite(actor_id=ids[inviter])["code"]
        redeemed = accounts.redeem(code=code, handle=handle, region=region)
        ids[handle] = redeemed["user_id"]
        save_credential(home, handle, redeemed["token"])
    engagement = EngagementService(store)
    for follower, followee in DEMO_FOLLOWS:
        engagement.record(actor_id=ids[follower], events=[{"type": "follow", "user_id": ids[followee]}])
    return {"seeded": True, "users": len(DEMO_PEOPLE) + 1, "follows": len(DEMO_FOLLOWS)}

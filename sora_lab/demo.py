"""A small demo world so a fresh lab has people, follows and an invite tree.

Seeding is idempotent: people are added only to a lab without them, clips only
until the demo set exists, and the simulated launch only once.
"""

from __future__ import annotations

from collections.abc import Callable
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


# (author, prompt, seed): prompts in the tiny model's world (its 5 backgrounds: black, gray, navy,
# dark green, brown) — a background it never saw comes out as a guess.
DEMO_CLIPS = [
    ("maya", "a red circle moves right on a navy background", 1),
    ("theo", "a yellow star spins on a black background", 2),
    ("priya", "a green square bounces on a gray background", 3),
    ("jonas", "an orange triangle moves up on a navy background", 4),
    ("lena", "a pink circle grows on a dark green background", 5),
    ("maya", "a white star moves left on a brown background", 6),
    ("theo", "a blue square shrinks on a gray background", 7),
    ("priya", "a purple circle moves down on a black background", 8),
]


def seed_demo_world(lab, progress: Callable[[str], None] = print) -> dict:
    """Everything `make demo` shows: operator, people, clips with engagement, a simulated launch."""
    from sora_lab.bootstrap import initialise
    from sora_lab.metrics.simulate import seed_default_scenario

    services = lab._services
    initialise(lab)
    people = seed_demo(services.store, lab.home)
    progress(f"people: {'seeded' if people['seeded'] else 'already there'} ({people['users']} accounts)")
    with services.store.read() as cur:
        existing = {row[0] for row in cur.execute("SELECT prompt FROM videos").fetchall()}
    made = 0
    for author, prompt, seed in DEMO_CLIPS:
        if prompt in existing:
            continue
        result = lab.videos.generate(as_user=author, prompt=prompt, seed=seed)
        made += 1
        progress(f"clip {made}: @{author} \"{prompt}\" -> {result['video_id']} ({result['timings']['total']:.1f} s)")
    with services.store.read() as cur:
        simulated = cur.execute("SELECT count(*) FROM events WHERE source LIKE 'sim:%'").fetchone()[0]
    if simulated == 0:
        report = seed_default_scenario(services.store, home=lab.home)
        simulated = report["events"]
        progress(f"simulated launch '{report['scenario']}': {simulated:,} events in {report['ingest_s']:.1f} s")
    return {"people": people, "clips_made": made, "simulated_events": simulated}

"""A small demo world so a fresh lab has people, follows and an invite tree.

Seeding is idempotent: people are added only to a lab without them, clips only
until the demo set exists, and the simulated launch only once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sora_lab.accounts.service import ADMIN_HANDLE, AccountService
from sora_lab.admin.bootstrap import initialise
from sora_lab.core.home import save_credential
from sora_lab.feed.engagement import EngagementService
from sora_lab.metrics.simulate import seed_default_scenario
from sora_lab.store.db import Store

# (handle, region, invited by) — an invite tree three levels deep.
DEMO_PEOPLE = [
    ("maya", "US", ADMIN_HANDLE),
    ("theo", "CA", "maya"),
    ("priya", "US", "maya"),
    ("jonas", "US", "theo"),
    ("lena", "CA", "priya"),
]
DEMO_FOLLOWS = [
    ("theo", "maya"), ("priya", "maya"), ("maya", "theo"), ("jonas", "theo"), ("lena", "priya"), ("maya", "lena"),
]


def seed_people(store: Store, home: Path, accounts: AccountService, engagement: EngagementService) -> dict:
    """Create the operator and the demo people (tokens saved to the home's credentials) unless they exist."""
    initialise(store, home, accounts)
    with store.read() as cur:
        existing = {r[0] for r in cur.execute("SELECT handle FROM users").fetchall()}
    if DEMO_PEOPLE[0][0] in existing:
        return {"seeded": False, "users": len(existing)}
    ids = {ADMIN_HANDLE: accounts.by_handle(ADMIN_HANDLE).user_id}
    for handle, region, inviter in DEMO_PEOPLE:
        code = accounts.invite(actor_id=ids[inviter])["code"]
        redeemed = accounts.redeem(code=code, handle=handle, region=region)
        ids[handle] = redeemed["user_id"]
        save_credential(home, handle, redeemed["token"])
    for follower, followee in DEMO_FOLLOWS:
        engagement.record(actor_id=ids[follower], events=[{"type": "follow", "user_id": ids[followee]}])
    return {"seeded": True, "users": len(DEMO_PEOPLE) + 1, "follows": len(DEMO_FOLLOWS)}


# (author, prompt, seed): prompts in the tiny model's world (its 5 backgrounds: black, gray, navy,
# dark green, brown) — a background it never saw comes out as a guess. Three topics (stars moving
# up, circles bouncing, squares moving left), each by three people and no one in all three, so a
# viewer's taste for a topic and the bonus for following an author show up apart in the ranking
# (notebooks/04_feed_ranking.ipynb), and blocking one author leaves every topic in the feed.
DEMO_CLIPS = [
    ("maya", "a yellow star moves up on a black background", 1),
    ("theo", "a white star moves up on a navy background", 2),
    ("lena", "an orange star moves up on a brown background", 3),
    ("theo", "a red circle bounces on a gray background", 4),
    ("priya", "a pink circle bounces on a navy background", 5),
    ("jonas", "a green circle bounces on a black background", 6),
    ("maya", "a blue square moves left on a dark green background", 7),
    ("priya", "a purple square moves left on a brown background", 8),
    ("jonas", "a white square moves left on a gray background", 9),
]


def seed_demo_world(services, progress: Callable[[str], None] = print) -> dict:
    """Everything `make demo` shows: operator, people, clips with engagement, a simulated launch.

    `services` is an open `sora_lab.services.Services`: seeding runs in the process that owns the file.
    """
    store, home = services.store, services.home
    people = seed_people(store, home, services.accounts, services.engagement)
    progress(f"people: {'seeded' if people['seeded'] else 'already there'} ({people['users']} accounts)")
    with store.read() as cur:
        existing = {row[0] for row in cur.execute("SELECT prompt FROM videos").fetchall()}
    made = 0
    for author, prompt, seed in DEMO_CLIPS:
        if prompt in existing:
            continue
        author_id = services.accounts.by_handle(author).user_id
        result = services.videos.generate(actor_id=author_id, prompt=prompt, seed=seed)
        made += 1
        progress(f"clip {made}: @{author} \"{prompt}\" -> {result['video_id']} ({result['timings']['total']:.1f} s)")
    with store.read() as cur:
        simulated = cur.execute("SELECT count(*) FROM events WHERE source LIKE 'sim:%'").fetchone()[0]
    if simulated == 0:
        report = seed_default_scenario(store, home=home)
        simulated = report["events"]
        progress(f"simulated launch '{report['scenario']}': {simulated:,} events in {report['ingest_s']:.1f} s")
    return {"people": people, "clips_made": made, "simulated_events": simulated}

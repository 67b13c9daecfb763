"""Video rows inserted directly (no generator needed) and a whole scroll session read back.

Rows written here have no media files; they exercise ranking, paging and engagement only,
so they go straight into the store of the test's `services`. The browser tests use real
generated clips.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sora_lab.core.ids import utcnow
from sora_lab.lab import Lab
from sora_lab.services import Services

TOPICS = [
    "a calm ocean wave at sunset",
    "spinning stars in a purple night sky",
    "a red fox running through snow",
    "a city street in the rain with neon lights",
    "a bowl of ramen steaming on a table",
]


def user_id(services: Services, handle: str) -> str:
    return services.accounts.by_handle(handle).user_id


def add_video(
    services: Services,
    author: str,
    prompt: str,
    *,
    published_at: datetime | None = None,
    status: str = "published",
    parent_id: str | None = None,
    duration_ms: int = 10_000,
) -> str:
    """Insert one video row as the generator would, and return its id."""
    when = published_at or utcnow()
    video_id = hashlib.sha256(f"{author}|{prompt}|{when.isoformat()}|{parent_id}".encode()).hexdigest()[:16]
    with services.store.write() as cur:
        cur.execute(
            "INSERT INTO videos VALUES (?, ?, ?, 1, 'test', 'test', ?, 576, 1024, ?, ?, NULL, ?, ?, ?, ?)",
            [video_id, user_id(services, author), prompt, duration_ms, f"media/videos/{video_id}.mp4",
             f"media/posters/{video_id}.jpg", status, parent_id, when, when if status == "published" else None],
        )
    return video_id


def add_many(services: Services, n: int, *, authors=("maya", "theo", "priya", "jonas", "lena")) -> list[str]:
    """n videos, authors and TOPICS in rotation, one minute apart (newest last)."""
    start = utcnow() - timedelta(minutes=n + 1)
    return [
        add_video(services, authors[i % len(authors)], f"{TOPICS[i % len(TOPICS)]} #{i}",
                  published_at=start + timedelta(minutes=i))
        for i in range(n)
    ]


def read_all(lab: Lab, handle: str, *, limit: int = 7, steer: str | None = None, max_pages: int = 100) -> list[dict]:
    """Every item of one scroll session, page by page."""
    items: list[dict] = []
    cursor = None
    for _ in range(max_pages):
        page = lab.feed.page(as_user=handle, cursor=cursor, limit=limit, steer=steer)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"feed did not end within {max_pages} pages")

"""The feed and engagement through a real server: paging over HTTP, the CLI, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REPO, ServerProcess
from test_feed_support import add_many

from sora_lab.lab import Lab

HANDLES = ["maya", "theo", "priya", "jonas", "lena"]


@pytest.fixture
def feed_server(seeded_home):
    with Lab.open(seeded_home) as lab:
        ids = add_many(lab, 24)
    proc = ServerProcess(seeded_home).start()
    proc.video_ids = ids
    yield proc
    proc.stop()


def test_paging_over_http_and_the_cli(feed_server):
    lab = Lab.connect(feed_server.url, home=feed_server.home)
    seen, cursor = [], None
    while True:
        page = lab.feed.page(as_user="maya", cursor=cursor, limit=5, steer="more ocean")
        seen += [i["video_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(feed_server.video_ids)
    assert "ocean" in lab.feed.page(as_user="maya", limit=1, steer="more ocean")["items"][0]["prompt"]
    out = subprocess.run(
        [sys.executable, "-m", "sora_lab.cli", "feed", "page", "--as", "theo", "--limit", "3", "--json",
         "--home", str(feed_server.home)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["items"]) == 3 and result["next_cursor"]
    bad = subprocess.run(
        [sys.executable, "-m", "sora_lab.cli", "feed", "page", "--as", "theo", "--cursor", "x.y", "--json",
         "--home", str(feed_server.home)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert bad.returncode == 1 and "cursor" in bad.stderr and bad.stderr.count("\n") == 1


def test_concurrent_likes_and_retries_lose_nothing(feed_server):
    videos = feed_server.video_ids[:6]

    def client(handle: str) -> None:
        lab = Lab.connect(feed_server.url, home=feed_server.home)
        for _round in range(3):  # every batch is sent three times: retries must not double count
            for n, video in enumerate(videos):
                batch = [
                    {"type": "like", "video_id": video, "client_event_id": f"{handle}-like-{n}"},
                    {"type": "view", "video_id": video, "watch_ms": 4000, "client_event_id": f"{handle}-view-{n}"},
                ]
                lab.engagement.record(as_user=handle, events=batch)
            lab.feed.page(as_user=handle, limit=3)
        lab.close()

    with ThreadPoolExecutor(len(HANDLES)) as pool:
        list(pool.map(client, HANDLES))
    lab = Lab.connect(feed_server.url, home=feed_server.home)
    for video in videos:
        counts = lab.engagement.counts(as_user="maya", video_id=video)
        assert (counts["likes"], counts["views"]) == (len(HANDLES), len(HANDLES))

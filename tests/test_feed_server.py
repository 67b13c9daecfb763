"""The feed and engagement through a real server: paging over HTTP, the CLI, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest
from helpers import REPO
from helpers.feed_rows import add_many
from helpers.processes import ServerProcess

from sora_lab.lab import Lab
from sora_lab.services import Services

HANDLES = ["maya", "theo", "priya", "jonas", "lena"]


@pytest.fixture
def feed_server(seeded_home):
    with closing(Services.open(seeded_home)) as services:
        ids = add_many(services, 24)
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


def test_widget_kernel_side_pages_likes_and_batches_views(feed_server):
    from sora_lab.apps.feed_widget import VIEW_BATCH, FeedWidget

    operator = Lab.connect(feed_server.url, home=feed_server.home)
    session = operator.signin.sign_in(code=operator.signin.login_link(as_user="lena")["code"])["token"]
    kernel = Lab(feed_server.home, url=feed_server.url)  # what the feed's kernel holds: lena's session, nothing else
    assert kernel.adopt_session(session) == "lena" and kernel._tokens == {"lena": session}
    widget = FeedWidget(kernel, viewer="lena", page_size=4)
    lab = operator
    assert len(widget.items) == 4 and widget.has_more
    assert all(i["src"].startswith(f"{feed_server.url}/media/videos/") for i in widget.items)
    widget.load_more()
    assert len({i["video_id"] for i in widget.items}) == 8
    first = widget.items[0]["video_id"]
    widget._on_msg(widget, {"kind": "like", "video_id": first, "liked": True}, [])
    assert widget.items[0]["liked"] and widget.items[0]["counts"]["likes"] == 1
    for item in widget.items[: VIEW_BATCH - 1]:
        widget.view(item["video_id"], 9_000)
    assert lab.engagement.counts(as_user="lena", video_id=first)["views"] == 0  # still batched
    widget.view(widget.items[VIEW_BATCH - 1]["video_id"], 9_000)  # the batch is full: sent
    assert lab.engagement.counts(as_user="lena", video_id=first)["views"] == 1
    ahead = {i["video_id"] for i in widget.items[2:]}  # loaded, never on screen
    widget._on_msg(widget, {"kind": "steer", "text": "more ocean", "index": 1}, [])
    steered = widget.items[2:]
    assert steered and "ocean" in steered[0]["prompt"]
    assert len({i["video_id"] for i in widget.items}) == len(widget.items)
    while widget.has_more:
        widget.load_more()
    shown = [i["video_id"] for i in widget.items]
    assert len(shown) == len(set(shown)) and ahead <= set(shown)  # re-ranked, not lost, never twice
    widget._on_msg(widget, {"kind": "like", "video_id": "0000000000000000"}, [])
    assert "not a published video" in widget.status


def test_explain_over_http_is_the_callers_own_and_refuses_bad_input(feed_server):
    import httpx

    from sora_lab.core.home import load_credentials

    tokens = load_credentials(feed_server.home)
    lab = Lab.connect(feed_server.url, home=feed_server.home)
    foxes = [v for n, v in enumerate(feed_server.video_ids) if n % 5 == 2]
    lab.engagement.record(as_user="jonas", events=[{"type": "view", "video_id": v, "watch_ms": 9_000} for v in foxes])
    mine = lab.feed.explain(as_user="jonas", limit=5)
    assert "fox" in mine["items"][0]["prompt"] and mine["items"][0]["parts"]["taste"] > 0.45

    def get(token: str, **query) -> httpx.Response:
        return httpx.get(f"{feed_server.url}/api/v1/feed/explain", params=query, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})

    jonas_id = lab.accounts.whoami(as_user="jonas")["user_id"]
    as_theo = get(tokens["theo"], limit=24, user_id=jonas_id, actor_id=jonas_id, viewer="jonas")
    assert as_theo.status_code == 200  # no parameter picks whose ranking: theo gets his own, without taste
    assert all(i["parts"]["taste"] == 0 for i in as_theo.json()["items"])
    for query, field in [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "ten"}, "limit"),
                         ({"steer": "x" * 301}, "steer"), ({"steer": "more\x00foxes"}, "steer")]:
        refused = get(tokens["theo"], **query)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, (query, refused.text)
    assert httpx.get(f"{feed_server.url}/api/v1/feed/explain", timeout=60).status_code == 401
    out = subprocess.run(
        [sys.executable, "-m", "sora_lab.cli", "feed", "explain", "--as", "jonas", "--limit", "3",
         "--home", str(feed_server.home)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    header, first, *_ = out.stdout.splitlines()
    assert "taste" in header and first.split()[0] == "1" and "fox" in first

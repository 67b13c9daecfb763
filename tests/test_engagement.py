"""Engagement writes: batched, idempotent per client event id, aggregates exact."""

from __future__ import annotations

import pytest
from helpers.feed_rows import add_many, user_id

from sora_lab.core.errors import InputError, NotFound
from sora_lab.feed import stats as feed_stats
from sora_lab.feed.stats import fold_pending


def _stats(services, video_id):
    """The folded aggregates (waiting signals applied first)."""
    with services.store.write() as cur:
        fold_pending(cur)
    with services.store.read() as cur:
        return cur.execute(
            "SELECT views, watch_throughs, likes, shares, remixes, comments FROM feed_video_stats WHERE video_id = ?",
            [video_id],
        ).fetchone()


def _waiting(services) -> int:
    with services.store.read() as cur:
        return cur.execute("SELECT count(*) FROM feed_pending").fetchall()[0][0]


def test_retrying_a_batch_stores_nothing_twice(lab, services):
    (video,) = add_many(services, 1)
    batch = [
        {"type": "view", "video_id": video, "watch_ms": 9_500, "client_event_id": "e1"},
        {"type": "like", "video_id": video, "client_event_id": "e2"},
        {"type": "share", "video_id": video, "client_event_id": "e3"},
        {"type": "share", "video_id": video, "client_event_id": "e3"},  # repeated inside the batch
    ]
    assert lab.engagement.record(as_user="maya", events=batch) == {"stored": 3, "duplicates": 1}
    assert lab.engagement.record(as_user="maya", events=batch) == {"stored": 0, "duplicates": 4}
    counts = lab.engagement.counts(as_user="maya", video_id=video)
    assert (counts["views"], counts["likes"], counts["shares"]) == (1, 1, 1)
    # Another user may reuse the same client ids: they are per user.
    assert lab.engagement.record(as_user="theo", events=batch[:1])["stored"] == 1
    # A batch mixing seen and new ids stores exactly the new ones (the careful second pass).
    mixed = batch[:2] + [{"type": "share", "video_id": video, "client_event_id": "e4"}]
    assert lab.engagement.record(as_user="maya", events=mixed) == {"stored": 1, "duplicates": 2}
    assert lab.engagement.counts(as_user="maya", video_id=video)["shares"] == 2


def test_like_unlike_sequences_resolve_in_order(lab, services):
    (video,) = add_many(services, 1)
    lab.engagement.record(as_user="maya", events=[{"type": "like", "video_id": video}] * 3)
    assert lab.engagement.counts(as_user="maya", video_id=video)["likes"] == 1
    lab.engagement.record(as_user="maya", events=[{"type": "unlike", "video_id": video},
                                                  {"type": "like", "video_id": video},
                                                  {"type": "unlike", "video_id": video}])
    assert lab.engagement.counts(as_user="maya", video_id=video)["likes"] == 0
    assert lab.engagement.liked(as_user="maya", video_ids=[video]) == []
    lab.engagement.record(as_user="theo", events=[{"type": "like", "video_id": video}])
    assert lab.engagement.liked(as_user="theo", video_ids=[video]) == [video]
    assert _stats(services, video)[2] == 1


def test_bad_event_stores_nothing_and_names_the_field(lab, services):
    (video,) = add_many(services, 1)
    good = {"type": "like", "video_id": video}
    with pytest.raises(InputError, match=r"events\[1\]\.watch_ms"):
        lab.engagement.record(as_user="maya", events=[good, {"type": "view", "video_id": video, "watch_ms": -1}])
    with pytest.raises(NotFound, match="not a published video"):
        lab.engagement.record(as_user="maya", events=[good, {"type": "share", "video_id": "nope"}])
    with pytest.raises(InputError, match=r"events\[0\]\.type"):
        lab.engagement.record(as_user="maya", events=[{"type": "explode", "video_id": video}])
    assert lab.engagement.counts(as_user="maya", video_id=video)["likes"] == 0
    with services.store.read() as cur:
        assert cur.execute("SELECT count(*) FROM events WHERE type = 'like'").fetchall()[0][0] == 0


def test_follow_unfollow_and_comments(lab, services):
    (video,) = add_many(services, 1)
    jonas = user_id(services, "jonas")
    with services.store.read() as con:
        followers = con.execute("SELECT count(*) FROM follows WHERE followee_id = ?", [jonas]).fetchall()[0][0]
        lab.engagement.record(as_user="lena", events=[{"type": "follow", "user_id": jonas},
                                                      {"type": "comment", "video_id": video, "text": " nice "}])
        assert con.execute("SELECT count(*) FROM follows WHERE followee_id = ?",
                           [jonas]).fetchall()[0][0] == followers + 1
        assert con.execute("SELECT text FROM comments").fetchall() == [("nice",)]
        lab.engagement.record(as_user="lena", events=[{"type": "unfollow", "user_id": jonas}])
        assert con.execute("SELECT count(*) FROM follows WHERE followee_id = ?", [jonas]).fetchall()[0][0] == followers
    assert lab.engagement.counts(as_user="lena", video_id=video)["comments"] == 1


@pytest.mark.parametrize("few_videos", [200, 0], ids=["by-key", "by-join"])
def test_incremental_aggregates_match_a_rebuild_from_the_log(lab, services, monkeypatch, few_videos):
    monkeypatch.setattr(feed_stats, "FEW_VIDEOS", few_videos)  # both fold paths
    ids = add_many(services, 6)
    lab.feed.page(as_user="maya", limit=1)  # prompts embedded, so taste vectors can form
    for n, handle in enumerate(["maya", "theo", "priya", "jonas", "lena"]):
        events = []
        for k, video in enumerate(ids):
            events.append({"type": "view", "video_id": video, "watch_ms": 10_000 if (n + k) % 2 else 3_000})
            if (n * k) % 3 == 0:
                events.append({"type": "like", "video_id": video})
            if k == n:
                events.append({"type": "share", "video_id": video})
        lab.engagement.record(as_user=handle, events=events)
        if n == 2:
            lab.feed.sync()  # one fold mid-way: folds must add up, not overwrite
    lab.engagement.record(as_user="theo", events=[{"type": "unlike", "video_id": ids[0]}])
    assert lab.feed.sync()["signals_folded"] > 0
    with services.store.read() as con:
        before = con.execute("SELECT * FROM feed_video_stats ORDER BY video_id").fetchall()
        taste_before = con.execute("SELECT user_id, weight, vec FROM feed_user_taste ORDER BY user_id").fetchall()
        lab.feed.rebuild()
        after = con.execute("SELECT * FROM feed_video_stats ORDER BY video_id").fetchall()
        taste_after = con.execute("SELECT user_id, weight, vec FROM feed_user_taste ORDER BY user_id").fetchall()
    assert before == after
    assert [r[0] for r in taste_before] == [r[0] for r in taste_after]
    for (_, wa, a), (_, wb, b) in zip(taste_before, taste_after, strict=True):
        assert wa == pytest.approx(wb)
        assert a == pytest.approx(b, abs=1e-4)
    assert sum(r[6] for r in after) == 30  # views


def test_counts_are_exact_before_and_after_the_fold(lab, services, monkeypatch):
    """Signals wait in a queue until a fold; what people see adds them, so it never lags."""
    (video,) = add_many(services, 1)
    monkeypatch.setattr(feed_stats, "FOLD_AT", 4)
    monkeypatch.setattr("sora_lab.feed.engagement.FOLD_AT", 4)
    lab.engagement.record(as_user="maya", events=[{"type": "view", "video_id": video, "watch_ms": 9_900},
                                                  {"type": "like", "video_id": video}])
    assert _waiting(services) == 2
    assert lab.engagement.counts(as_user="maya", video_id=video)["likes"] == 1
    page = lab.feed.page(as_user="theo", limit=5)  # a new session folds first
    assert _waiting(services) == 0
    assert [i["counts"]["likes"] for i in page["items"] if i["video_id"] == video] in ([1], [])
    lab.engagement.record(as_user="theo", events=[{"type": "view", "video_id": video, "watch_ms": 100},
                                                  {"type": "share", "video_id": video}])
    assert _waiting(services) == 2
    lab.engagement.record(as_user="lena", events=[{"type": "view", "video_id": video, "watch_ms": 100},
                                                  {"type": "share", "video_id": video}])
    assert _waiting(services) == 0  # reached FOLD_AT: folded
    assert _stats(services, video)[:4] == (3, 1, 1, 2)  # views, watch-throughs, likes, shares
    counts = lab.engagement.counts(as_user="maya", video_id=video)
    assert (counts["views"], counts["likes"], counts["shares"]) == (3, 1, 2)


def test_client_ids_are_forgotten_after_the_retention_window(lab, services):
    from datetime import timedelta

    from sora_lab.core.ids import utcnow

    (video,) = add_many(services, 1)
    batch = [{"type": "share", "video_id": video, "client_event_id": "s1"}]
    assert lab.engagement.record(as_user="maya", events=batch)["stored"] == 1
    service = services.engagement
    assert service.forget_client_ids(before=utcnow() - timedelta(days=1)) == 0  # still inside the window
    assert lab.engagement.record(as_user="maya", events=batch)["duplicates"] == 1
    assert service.forget_client_ids(before=utcnow() + timedelta(seconds=1)) == 1
    assert lab.engagement.record(as_user="maya", events=batch)["stored"] == 1  # a late retry counts again


def test_a_batch_naming_a_clip_the_viewer_cannot_see_stores_nothing(lab, services):
    published = add_many(services, 260)  # more than visibility's literal id list: its Arrow-view path
    store = services.store
    with store.write() as cur:
        cur.execute("UPDATE videos SET status = 'draft' WHERE video_id = ?", [published[0]])
    with pytest.raises(NotFound, match=published[0]):
        lab.engagement.record(as_user="maya", events=[{"type": "view", "video_id": v, "watch_ms": 10}
                                                      for v in published])
    big = [{"type": "view", "video_id": v, "watch_ms": 10} for v in published[1:]]
    assert lab.engagement.record(as_user="maya", events=big)["stored"] == 259
    with store.write() as cur:  # unpublished after an earlier batch: refused on the very next one
        cur.execute("UPDATE videos SET status = 'draft' WHERE video_id = ?", [published[1]])
    with pytest.raises(NotFound, match=published[1]):
        lab.engagement.record(as_user="maya", events=big)

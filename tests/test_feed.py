"""Feed ranking and paging: no repeats, stable sessions, hard filters, steering, reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers.feed_rows import add_many, add_video, read_all, user_id

from sora_lab.core.errors import InputError
from sora_lab.core.ids import utcnow


def test_pages_cover_the_feed_once_in_order(lab, services):
    ids = add_many(services, 23)
    items = read_all(lab, "maya", limit=5)
    seen = [i["video_id"] for i in items]
    assert sorted(seen) == sorted(ids)  # every published video once, none twice
    assert [i["pos"] for i in items] == sorted(i["pos"] for i in items)
    for a, b in zip(items, items[1:], strict=False):
        assert a["author_id"] != b["author_id"], "same author twice in a row"
    assert all(i["reasons"] for i in items)
    assert all(set(i["counts"]) == {"views", "likes", "shares", "remixes", "comments"} for i in items)


def test_new_videos_do_not_disturb_a_session(lab, services):
    add_many(services, 12)
    first = lab.feed.page(as_user="maya", limit=4)
    fresh = add_video(services, "theo", "a brand new clip of a lighthouse")
    rest = read_all_from(lab, "maya", first["next_cursor"])
    seen = [i["video_id"] for i in first["items"] + rest]
    assert fresh not in seen
    assert len(seen) == len(set(seen)) == 12
    again = lab.feed.page(as_user="maya", limit=50)  # pull to refresh: a new session sees it
    assert fresh in [i["video_id"] for i in again["items"]]


def read_all_from(lab, handle, cursor):
    out = []
    while cursor:
        page = lab.feed.page(as_user=handle, cursor=cursor, limit=4)
        out.extend(page["items"])
        cursor = page["next_cursor"]
    return out


def test_cursor_is_signed_and_personal(lab, services):
    add_many(services, 6)
    page = lab.feed.page(as_user="maya", limit=2)
    cursor = page["next_cursor"]
    body, sig = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    with pytest.raises(InputError, match="signature"):
        lab.feed.page(as_user="maya", cursor=forged)
    with pytest.raises(InputError, match="another user"):
        lab.feed.page(as_user="theo", cursor=cursor)
    with pytest.raises(InputError, match="limit"):
        lab.feed.page(as_user="maya", limit=0)
    secret = lab.home / "feed_secret"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_hard_filters_apply_on_the_next_read(lab, services):
    ids = add_many(services, 10)
    draft = add_video(services, "theo", "a secret draft", status="draft")
    page = lab.feed.page(as_user="maya", limit=2)
    assert draft not in [i["video_id"] for i in page["items"]]
    shown = {i["video_id"] for i in page["items"]}
    removed = next(v for v in ids if v not in shown)
    store = services.store
    with store.write() as cur:
        cur.execute("UPDATE videos SET status = 'removed' WHERE video_id = ?", [removed])
    lab.feed.block(as_user="maya", handle="@jonas")
    with pytest.raises(InputError, match="yourself"):
        lab.feed.block(as_user="maya", user_id=user_id(services, "maya"))
    rest = read_all_from(lab, "maya", page["next_cursor"])
    assert removed not in [i["video_id"] for i in rest]
    assert all(i["author"] != "jonas" for i in rest)
    assert draft not in [i["video_id"] for i in rest]


def test_revoked_cameo_hides_the_video_on_the_next_page(lab, services):
    ids = add_many(services, 8)
    store = services.store
    cameo_video = ids[0]  # oldest: not on the first page
    with store.read() as cur:
        author = cur.execute("SELECT author_id FROM videos WHERE video_id = ?", [cameo_video]).fetchall()[0][0]
    owner = user_id(services, "priya") if author != user_id(services, "priya") else user_id(services, "maya")
    with store.write() as cur:
        cur.execute(
            "INSERT INTO cameos (cameo_id, owner_id, handle, kind, permission, created_at) "
            "VALUES ('cam_1', ?, 'priya_cam', 'person', 'everyone', ?)", [owner, utcnow()])
        cur.execute("INSERT INTO video_cameos VALUES (?, 'cam_1')", [cameo_video])
    first = lab.feed.page(as_user="theo", limit=1)
    visible = [i for i in read_all(lab, "theo") if i["video_id"] == cameo_video]
    assert visible and visible[0]["cameos"] == ["priya_cam"]
    with store.write() as cur:
        cur.execute("UPDATE cameos SET permission = 'only_me' WHERE cameo_id = 'cam_1'")
    assert cameo_video not in [i["video_id"] for i in first["items"]]
    rest = read_all_from(lab, "theo", first["next_cursor"])
    assert len(rest) == len(ids) - 2  # everything else still comes
    assert cameo_video not in [i["video_id"] for i in rest]
    assert cameo_video not in [i["video_id"] for i in lab.feed.explain(as_user="theo", limit=50)["items"]]


def _rank_of(items, word):
    return [n for n, i in enumerate(items) if word in i["prompt"]]


def test_steering_moves_topics_up_and_down(lab, services):
    add_many(services, 25)
    plain = read_all(lab, "jonas", limit=25)
    steered = read_all(lab, "jonas", limit=25, steer="more ocean clips, fewer spinning stars")
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean(_rank_of(steered, "ocean")) < mean(_rank_of(plain, "ocean")) - 3
    assert mean(_rank_of(steered, "spinning stars")) > mean(_rank_of(plain, "spinning stars")) + 3
    assert any("steer: more 'ocean'" in r for r in steered[0]["reasons"])


def test_changing_the_steer_mid_scroll_never_repeats(lab, services):
    add_many(services, 20)
    first = lab.feed.page(as_user="maya", limit=6)
    steered = lab.feed.page(as_user="maya", cursor=first["next_cursor"], limit=6, steer="more foxes in snow")
    rest = read_all_from(lab, "maya", steered["next_cursor"])
    seen = [i["video_id"] for i in first["items"] + steered["items"] + rest]
    assert len(seen) == len(set(seen)) == 20
    assert "fox" in steered["items"][0]["prompt"]


def test_steering_keeps_clips_delivered_ahead_but_not_watched(lab, services):
    add_many(services, 12)
    first = lab.feed.page(as_user="maya", limit=6)
    watched, ahead = first["items"][:2], first["items"][2:]
    steered = lab.feed.page(as_user="maya", cursor=first["next_cursor"], limit=4, steer="more foxes in snow",
                            seen_through=watched[-1]["pos"])
    rest = steered["items"] + read_all_from(lab, "maya", steered["next_cursor"])
    ids = [i["video_id"] for i in rest]
    assert len(ids) == len(set(ids)) == 10  # all but the two watched, once each
    assert {i["video_id"] for i in ahead} <= set(ids)
    assert not {i["video_id"] for i in watched} & set(ids)
    with pytest.raises(InputError, match="seen_through"):
        lab.feed.page(as_user="maya", cursor=steered["next_cursor"], steer="more cats", seen_through=999)


def test_a_new_video_is_not_buried_by_a_poorly_watched_older_one(lab, services):
    old = add_video(services, "theo", "an old clip nobody finishes", published_at=utcnow() - timedelta(hours=3))
    events = [{"type": "view", "video_id": old, "watch_ms": 500} for _ in range(30)]
    lab.engagement.record(as_user="jonas", events=events)
    new = add_video(services, "priya", "a brand new clip", published_at=utcnow() - timedelta(hours=3))
    items = lab.feed.page(as_user="lena", limit=10)["items"]
    order = [i["video_id"] for i in items]
    assert order.index(new) < order.index(old)
    new_item = items[order.index(new)]
    assert any(r.startswith("new: only 0 views") for r in new_item["reasons"])


def test_taste_follows_what_was_watched_through(lab, services):
    ids = add_many(services, 25)
    lab.feed.page(as_user="jonas", limit=1)  # embeds the prompts
    foxes = [v for v, n in zip(ids, range(25), strict=True) if n % 5 == 2]
    lab.engagement.record(
        as_user="jonas", events=[{"type": "view", "video_id": v, "watch_ms": 10_000} for v in foxes[:3]]
    )
    items = read_all(lab, "jonas", limit=25)
    others = [i for i in items if i["video_id"] not in foxes[:3]]
    fox_ranks = _rank_of(others, "fox")
    assert sum(fox_ranks) / len(fox_ranks) < len(others) / 2 - 3
    assert any("watched through" in r for r in others[fox_ranks[0]]["reasons"])


def test_remix_of_a_liked_video_is_a_candidate_with_a_reason(lab, services):
    ids = add_many(services, 10)
    lab.engagement.record(as_user="lena", events=[{"type": "like", "video_id": ids[0]}])
    remix = add_video(services, "jonas", "a remix with extra sparkle", parent_id=ids[0])
    item = next(i for i in read_all(lab, "lena") if i["video_id"] == remix)
    assert "a remix of a video you liked" in item["reasons"]
    assert lab.engagement.counts(as_user="lena", video_id=ids[0])["remixes"] == 1


def test_diversify_never_repeats_an_author_when_it_can_be_avoided():
    import random
    from collections import Counter

    from sora_lab.feed.rank import diversify

    rng = random.Random(3)
    for _ in range(500):
        rows = [{"author_id": rng.choice("abcd"[: rng.randint(1, 4)]), "i": i} for i in range(rng.randint(1, 25))]
        out = diversify(rows)
        assert sorted(r["i"] for r in out) == list(range(len(rows)))
        if max(Counter(r["author_id"] for r in rows).values()) <= (len(rows) + 1) // 2:
            assert all(a["author_id"] != b["author_id"] for a, b in zip(out, out[1:], strict=False))


def test_steer_text_parsing():
    from sora_lab.feed.steer import SteerTopic, parse_steer

    assert parse_steer("more ocean clips, fewer spinning stars") == [
        SteerTopic("ocean", 1), SteerTopic("spinning stars", -1)]
    assert parse_steer("no cats and lots of sunsets") == [SteerTopic("cats", -1), SteerTopic("sunsets", 1)]
    with pytest.raises(InputError, match="steer"):
        parse_steer("x" * 400)


def test_explain_is_the_first_page_with_its_score_parts(lab, services):
    ids = add_many(services, 12)
    draft = add_video(services, "theo", "a secret draft of a fox", status="draft")
    lab.engagement.record(as_user="jonas", events=[{"type": "follow", "user_id": user_id(services, "priya")}])
    explained = lab.feed.explain(as_user="jonas", limit=12)
    page = lab.feed.page(as_user="jonas", limit=12)
    assert [i["video_id"] for i in explained["items"]] == [i["video_id"] for i in page["items"]]
    assert sorted(i["video_id"] for i in explained["items"]) == sorted(ids)  # no draft, nothing twice
    assert draft not in {i["video_id"] for i in explained["items"]}
    for item in explained["items"]:
        assert item["score"] == pytest.approx(sum(item["parts"].values()), abs=1e-3)
        assert (item["parts"]["follow"] > 0) == (item["author"] in ("theo", "priya"))  # theo: a demo follow
    assert [i["rank"] for i in explained["items"]] == list(range(1, 13))
    assert explained["topics"] == [] and 0 < explained["priors"]["watch_through"] < 1
    assert explained["weights"]["half_life_hours"] == 24.0
    lab.feed.block(as_user="jonas", handle="lena")
    assert all(i["author"] != "lena" for i in lab.feed.explain(as_user="jonas")["items"])


def test_explain_shows_the_callers_own_taste_and_steer_only(lab, services):
    ids = add_many(services, 15)
    foxes = [v for n, v in enumerate(ids) if n % 5 == 2]
    lab.engagement.record(as_user="jonas", events=[{"type": "view", "video_id": v, "watch_ms": 10_000} for v in foxes])
    jonas = lab.feed.explain(as_user="jonas", limit=15)["items"]
    assert "fox" in jonas[0]["prompt"] and jonas[0]["parts"]["taste"] > 0.45  # signals just sent count at once
    theo = lab.feed.explain(as_user="theo", limit=15)["items"]
    assert all(i["parts"]["taste"] == 0 for i in theo)  # jonas's taste never reaches another viewer
    steered = lab.feed.explain(as_user="theo", steer="fewer foxes, more ocean clips", limit=15)
    assert steered["topics"] == [{"text": "foxes", "direction": "fewer"}, {"text": "ocean", "direction": "more"}]
    assert "ocean" in steered["items"][0]["prompt"] and steered["items"][0]["parts"]["steer"] > 0
    assert all(i["parts"]["steer"] < 0 for i in steered["items"] if "fox" in i["prompt"])
    for bad, match in [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": True}, "limit"),
                       ({"steer": "x" * 400}, "steer"), ({"steer": 5}, "steer")]:
        with pytest.raises(InputError, match=match):
            lab.feed.explain(as_user="theo", **bad)
    with pytest.raises(InputError, match="unknown argument 'user_id'"):
        lab.feed.explain(as_user="theo", user_id=user_id(services, "jonas"))

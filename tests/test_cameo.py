"""Cameos: registration (face, character, liveness), permissions, revocation in feeds,
uses with remove, audit trail, generation-time consent, HTTP and CLI paths."""

from __future__ import annotations

import json
from datetime import timedelta

import cv2
import numpy as np
import pytest
from helpers.consent_world import drawing_png, face_png, no_face_png
from helpers.face_copies import clip
from typer.testing import CliRunner

from sora_lab.consent.rules import cameo_visibility_sql
from sora_lab.core.errors import Conflict, ConsentError, Forbidden, InputError, NotFound
from sora_lab.core.ids import utcnow
from sora_lab.lab import Lab

USERS = ["maya", "theo", "priya", "jonas", "lena"]


def uid(lab: Lab, handle: str) -> str:
    return lab.accounts.whoami(as_user=handle)["user_id"]


def moving_face_frames(n: int = 12) -> list[np.ndarray]:
    """A real face drifting and zooming a little, as a person recording themselves does."""
    from skimage import data

    img = data.astronaut()
    return [cv2.resize(img[10 + 3 * i : 410 + 2 * i, 60 + 2 * i : 460 + i], (256, 256)) for i in range(n)]


@pytest.fixture(autouse=True)
def photo_cameos(request):
    """These tests register person cameos from photos: the operator turns the liveness requirement off
    (tests/test_consent_likeness.py checks the default, on)."""
    for name in ("lab", "seeded_home"):
        if name in request.fixturenames:
            target = request.getfixturevalue(name)
            if name == "lab":
                target.admin.update_settings(changes={"cameo_liveness_required": False})
            else:
                with Lab.open(target) as lab:
                    lab.admin.update_settings(changes={"cameo_liveness_required": False})


# --- registration ----------------------------------------------------------------------------


def test_photo_with_a_face_keeps_only_a_cropped_reference(lab, home):
    cameo = lab.cameos.create(as_user="maya", image=face_png())
    assert cameo["handle"] == "maya" and cameo["kind"] == "person" and not cameo["is_character"]
    assert cameo["permission"] == "only_me"
    stored = list((home / "media").rglob("*"))
    assert [p.relative_to(home).as_posix() for p in stored if p.is_file()] == [cameo["reference_path"]]
    ref = cv2.imread(str(home / cameo["reference_path"]))
    assert ref.shape == (256, 256, 3)
    assert lab.cameos.audit(as_user="maya", handle="maya")[0]["type"] == "cameo_created"


def test_photo_without_a_face_is_refused_and_nothing_is_stored(lab, home):
    with pytest.raises(InputError, match="no face found"):
        lab.cameos.create(as_user="maya", image=no_face_png())
    with pytest.raises(InputError, match="no face found"):
        lab.cameos.create(as_user="maya", image=drawing_png())
    assert lab.cameos.mine(as_user="maya") == []
    assert not (home / "media" / "cameos").exists() or not any((home / "media" / "cameos").iterdir())


def test_character_cameo_is_flagged_and_namespaced(lab):
    cameo = lab.cameos.create(as_user="lena", image=drawing_png(), kind="character", handle="cat")
    assert cameo["kind"] == "character" and cameo["is_character"] and cameo["handle"] == "lena/cat"
    with pytest.raises(InputError, match="handle is required"):
        lab.cameos.create(as_user="lena", image=drawing_png(1), kind="character")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image": b"not an image"}, "not an image"),
        ({}, "exactly one of image"),
        ({"image": b"x", "video": b"y"}, "exactly one of image"),
        ({"image": b"x", "permission": "friends"}, "permission"),
        ({"image": b"x", "kind": "robot"}, "kind"),
        ({"image": b"x", "restrictions": "no politics"}, "restrictions"),
    ],
)
def test_bad_registration_input_names_the_field(lab, kwargs, match):
    with pytest.raises(InputError, match=match):
        lab.cameos.create(as_user="maya", **kwargs)


def test_taken_handle_conflicts(lab):
    lab.cameos.create(as_user="maya", image=face_png())
    with pytest.raises(Conflict, match="taken"):
        lab.cameos.create(as_user="maya", image=face_png("obama"))  # one person cameo per account
    lab.cameos.create(as_user="maya", image=drawing_png(), kind="character", handle="dog")
    with pytest.raises(Conflict, match="taken"):
        lab.cameos.create(as_user="maya", image=drawing_png(1), kind="character", handle="maya/dog")


# --- liveness -------------------------------------------------------------------------------------


def test_liveness_video_flow(lab):
    challenge = lab.cameos.start_challenge(as_user="theo")
    words = challenge["phrase"].split()
    assert len(words) == 6 and all(w.isdigit() for w in words[2:])
    cameo = lab.cameos.create(as_user="theo", video=clip(moving_face_frames()), challenge_id=challenge["challenge_id"])
    assert cameo["liveness"]["face_frames"] >= 0.6 * cameo["liveness"]["frames"]
    lab.cameos.delete(as_user="theo", handle="theo")  # frees the handle and the face; the challenge stays spent
    with pytest.raises(Conflict, match="already used"):
        lab.cameos.create(as_user="theo", video=clip(moving_face_frames()), challenge_id=challenge["challenge_id"])


def test_liveness_refusals(lab, services):
    video = clip(moving_face_frames())
    with pytest.raises(InputError, match="challenge_id is required"):
        lab.cameos.create(as_user="maya", video=video)
    other = lab.cameos.start_challenge(as_user="theo")["challenge_id"]
    with pytest.raises(NotFound):
        lab.cameos.create(as_user="maya", video=video, challenge_id=other)

    expired = lab.cameos.start_challenge(as_user="maya")["challenge_id"]
    with services.store.write() as cur:
        cur.execute("UPDATE cameo_challenges SET expires_at = ? WHERE challenge_id = ?",
                    [utcnow() - timedelta(seconds=1), expired])
    with pytest.raises(InputError, match="expired"):
        lab.cameos.create(as_user="maya", video=video, challenge_id=expired)

    fresh = lab.cameos.start_challenge(as_user="maya")["challenge_id"]
    still = moving_face_frames(1) * 12
    with pytest.raises(InputError, match="does not move"):
        lab.cameos.create(as_user="maya", video=clip(still), challenge_id=fresh)
    from skimage import data

    cup = cv2.resize(data.coffee(), (256, 256))
    with pytest.raises(InputError, match="face was found in 0"):
        lab.cameos.create(as_user="maya", video=clip([np.roll(cup, i, axis=1) for i in range(12)]),
                          challenge_id=fresh)
    with pytest.raises(InputError, match="recorded before"):
        lab.cameos.create(as_user="maya", video=clip(moving_face_frames(), creation_time="2020-01-01T00:00:00Z"),
                          challenge_id=fresh)
    assert lab.cameos.mine(as_user="maya") == []
    # a refused upload does not burn the challenge
    assert lab.cameos.create(as_user="maya", video=video, challenge_id=fresh)["handle"] == "maya"


# --- permissions ------------------------------------------------------------------------------------

# demo follows: theo<->maya mutual; priya->maya, maya->lena one-way; jonas approved in these cases
EXPECTED = {
    "only_me": {"maya"},
    "approved": {"maya", "jonas"},
    "mutuals": {"maya", "theo", "jonas"},
    "everyone": set(USERS),
}


@pytest.mark.parametrize("level", list(EXPECTED))
def test_permission_matrix(lab, services, level):
    lab.cameos.create(as_user="maya", image=face_png(), permission=level)
    lab.cameos.approve(as_user="maya", handle="maya", user="jonas")
    cameos = services.cameos
    for user in USERS:
        allowed = user in EXPECTED[level]
        assert lab.cameos.get(as_user=user, handle="maya")["can_use"] is allowed, (level, user)
        assert lab.policy.check(as_user=user, prompt="@maya waving")["allowed"] is allowed, (level, user)
        if allowed:
            cameo_id, ref = cameos.reference_for_generation(handle="@maya", actor_id=uid(lab, user))
            assert ref.shape == (256, 256, 3) and ref.dtype == np.uint8 and cameo_id.startswith("cam_")
        else:
            with pytest.raises(ConsentError):
                cameos.reference_for_generation(handle="maya", actor_id=uid(lab, user))


def test_revoke_beats_everyone_and_approve_restores(lab):
    lab.cameos.create(as_user="maya", image=face_png(), permission="everyone")
    assert lab.cameos.revoke(as_user="maya", handle="maya", user="lena")["revoked"] == ["lena"]
    assert not lab.cameos.get(as_user="lena", handle="maya")["can_use"]
    assert lab.cameos.get(as_user="jonas", handle="maya")["can_use"]
    lab.cameos.approve(as_user="maya", handle="maya", user="lena")
    assert lab.cameos.get(as_user="lena", handle="maya")["can_use"]


def test_only_the_owner_manages_a_cameo(lab):
    lab.cameos.create(as_user="maya", image=face_png())
    for call in (
        lambda: lab.cameos.set_permission(as_user="theo", handle="maya", permission="everyone"),
        lambda: lab.cameos.approve(as_user="theo", handle="maya", user="theo"),
        lambda: lab.cameos.uses(as_user="theo", handle="maya"),
        lambda: lab.cameos.audit(as_user="theo", handle="maya"),
        lambda: lab.cameos.delete(as_user="theo", handle="maya"),
    ):
        with pytest.raises(Forbidden):
            call()
    with pytest.raises(NotFound):
        lab.cameos.approve(as_user="maya", handle="maya", user="nobody")


def test_restrictions_are_read_and_enforced(lab):
    lab.cameos.create(as_user="maya", image=face_png(), permission="everyone")
    cameo = lab.cameos.set_restrictions(
        as_user="maya", handle="maya",
        restrictions=["No political content", "never say the word pineapple", "always wearing a hat"],
    )
    assert [r["kind"] for r in cameo["restrictions"]] == ["forbid_topic", "forbid_words", "instruction"]
    assert lab.policy.check(as_user="theo", prompt="@maya at a senate hearing")["reasons"][0]["code"] == (
        "cameo_restriction"
    )
    assert lab.policy.check(as_user="theo", prompt="@maya eating pine-apple")["allowed"] is False
    ok = lab.policy.check(as_user="theo", prompt="@maya walking a dog")
    assert ok["allowed"] and ok["instructions"] == ["@maya: wearing a hat"]
    with pytest.raises(InputError, match="200"):
        lab.cameos.set_restrictions(as_user="maya", handle="maya", restrictions=["x" * 201])


# --- revocation hides videos; uses view with remove ---------------------------------------------------


def add_video(services, author: str, video_id: str, status: str = "published") -> None:
    now = utcnow()
    with services.store.write() as cur:
        cur.execute(
            "INSERT INTO videos (video_id, author_id, prompt, seed, backend, model, duration_ms, width, height, "
            "media_path, status, created_at, published_at) VALUES (?, ?, ?, 0, 'test', 'test', 10000, 576, 1024, "
            "?, ?, ?, ?)",
            [video_id, services.accounts.by_handle(author).user_id, f"clip {video_id}", f"media/videos/{video_id}.mp4",
             status, now, now if status == "published" else None],
        )


def feed_ids(services) -> set[str]:
    sql = f"SELECT v.video_id FROM videos v WHERE v.status = 'published' AND {cameo_visibility_sql('v')}"
    with services.store.read() as cur:
        return {r[0] for r in cur.execute(sql).fetchall()}


def test_revocation_hides_videos_on_the_next_read(lab, services):
    cameo = lab.cameos.create(as_user="maya", image=face_png(), permission="everyone")
    cameos = services.cameos
    add_video(services, "theo", "v_theo")
    add_video(services, "jonas", "v_jonas")
    add_video(services, "lena", "v_plain")  # no cameo at all
    add_video(services, "lena", "v_draft", status="draft")
    cameos.record_use(actor_id=uid(lab, "theo"), video_id="v_theo", cameo_ids=[cameo["cameo_id"]])
    cameos.record_use(actor_id=uid(lab, "jonas"), video_id="v_jonas", cameo_ids=[cameo["cameo_id"]])
    cameos.record_use(actor_id=uid(lab, "lena"), video_id="v_draft", cameo_ids=[cameo["cameo_id"]])
    assert feed_ids(services) == {"v_theo", "v_jonas", "v_plain"}

    lab.cameos.revoke(as_user="maya", handle="maya", user="theo")
    assert feed_ids(services) == {"v_jonas", "v_plain"}
    lab.cameos.approve(as_user="maya", handle="maya", user="theo")
    assert feed_ids(services) == {"v_theo", "v_jonas", "v_plain"}
    lab.cameos.set_permission(as_user="maya", handle="maya", permission="mutuals")  # theo is a mutual, jonas not
    assert feed_ids(services) == {"v_theo", "v_plain"}
    lab.engagement.record(as_user="theo", events=[{"type": "unfollow", "user_id": uid(lab, "maya")}])
    assert feed_ids(services) == {"v_theo", "v_plain"}, "theo stays: approved people keep access under mutuals"
    lab.cameos.set_permission(as_user="maya", handle="maya", permission="everyone")

    uses = {u["video_id"]: u for u in lab.cameos.uses(as_user="maya", handle="maya")}
    assert set(uses) == {"v_theo", "v_jonas", "v_draft"}
    assert uses["v_draft"]["status"] == "draft" and not uses["v_draft"]["visible"]
    assert uses["v_jonas"]["visible"] and uses["v_jonas"]["author"] == "jonas"

    lab.cameos.remove_use(as_user="maya", handle="maya", video_id="v_jonas")
    assert feed_ids(services) == {"v_theo", "v_plain"}
    assert {u["video_id"]: u["removed"] for u in lab.cameos.uses(as_user="maya", handle="maya")}["v_jonas"]
    with pytest.raises(NotFound):
        lab.cameos.remove_use(as_user="maya", handle="maya", video_id="v_plain")

    lab.cameos.delete(as_user="maya", handle="maya")
    assert feed_ids(services) == {"v_plain"}
    with pytest.raises(ValueError):
        cameo_visibility_sql("v; DROP TABLE videos")


def test_record_use_and_output_check_enforce_consent(lab, services):
    cameo = lab.cameos.create(as_user="maya", image=face_png(), permission="only_me")
    cameos = services.cameos
    add_video(services, "theo", "v1", status="draft")
    with pytest.raises(ConsentError):
        cameos.record_use(actor_id=uid(lab, "theo"), video_id="v1", cameo_ids=[cameo["cameo_id"]])
    assert lab.cameos.uses(as_user="maya", handle="maya") == []
    cameo_id, ref = cameos.reference_for_generation(handle="maya", actor_id=uid(lab, "maya"))
    assert cameos.verify_output_references(actor_id=uid(lab, "maya"), references=[ref]) == [cameo_id]
    with pytest.raises(ConsentError, match="references\\[0\\]"):
        cameos.verify_output_references(actor_id=uid(lab, "theo"), references=[ref])
    with pytest.raises(ConsentError):
        cameos.verify_output_references(actor_id=uid(lab, "maya"), references=[np.zeros((256, 256, 3), np.uint8)])


def test_audit_log_records_every_use_and_decision(lab, services):
    lab.cameos.create(as_user="maya", image=face_png(), permission="approved")
    lab.cameos.approve(as_user="maya", handle="maya", user="theo")
    cameos = services.cameos
    cameos.reference_for_generation(handle="maya", actor_id=uid(lab, "theo"))
    with pytest.raises(ConsentError):
        cameos.reference_for_generation(handle="maya", actor_id=uid(lab, "jonas"))
    lab.policy.check(as_user="jonas", prompt="@maya dancing")
    lab.cameos.revoke(as_user="maya", handle="maya", user="theo")
    lab.cameos.set_permission(as_user="maya", handle="maya", permission="only_me")
    trail = lab.cameos.audit(as_user="maya", handle="maya")
    types = [e["type"] for e in reversed(trail)]
    assert types == ["cameo_created", "cameo_grant", "cameo_use", "cameo_refused", "cameo_refused", "cameo_revoke",
                     "cameo_permission"]
    assert trail[3]["actor"] == "jonas" and trail[3]["props"]["stage"] == "reference"
    assert trail[2]["props"]["stage"] == "policy_check"
    assert trail[0]["props"] == {"from": "approved", "to": "only_me"}


# --- over HTTP and from the CLI ------------------------------------------------------------------------------


def test_cameo_and_policy_over_http(server):
    lab = Lab.connect(server.url, home=server.home)
    cameo = lab.cameos.create(as_user="maya", image=face_png(), permission="mutuals")
    assert cameo["handle"] == "maya"
    assert lab.policy.check(as_user="theo", prompt="@maya waving")["allowed"]
    refused = lab.policy.check(as_user="jonas", prompt="@maya waving")
    assert refused["reasons"][0]["code"] == "cameo_not_permitted"
    with pytest.raises(Forbidden):
        lab.cameos.set_permission(as_user="jonas", handle="maya", permission="everyone")
    with pytest.raises(InputError, match="no face"):
        lab.cameos.create(as_user="theo", image=no_face_png())
    lab.close()


def test_cli_cameo_commands(seeded_home, tmp_path):
    from sora_lab.cli.main import app

    photo = tmp_path / "me.png"
    photo.write_bytes(face_png())
    cup = tmp_path / "cup.png"
    cup.write_bytes(no_face_png())
    runner = CliRunner()
    home = ["--home", str(seeded_home)]
    made = runner.invoke(app, ["cameo", "create", "--as", "maya", "--image", str(photo), "--permission", "everyone",
                               "--restrict", "always smiling", "--json", *home])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["restrictions"] == [{"text": "always smiling", "kind": "instruction"}]
    refused = runner.invoke(app, ["cameo", "create", "--as", "theo", "--image", str(cup), *home])
    assert refused.exit_code == 1 and refused.stderr.startswith("error:") and "no face" in refused.stderr
    revoke = runner.invoke(app, ["cameo", "revoke", "maya", "jonas", "--as", "maya", "--json", *home])
    assert revoke.exit_code == 0 and json.loads(revoke.stdout)["revoked"] == ["jonas"]
    audit = runner.invoke(app, ["cameo", "audit", "maya", "--as", "maya", "--json", *home])
    assert [e["type"] for e in json.loads(audit.stdout)] == ["cameo_revoke", "cameo_created"]
    missing = runner.invoke(app, ["cameo", "create", "--as", "maya", "--image", str(tmp_path / "nope.png"), *home])
    assert missing.exit_code == 1 and "no such file" in missing.stderr

"""Likeness checks on every upload: liveness by default, no human face as a character, one cameo per
face (re-encoded, resized, cropped, mirrored and re-photographed copies included, audited for the
owner), no squatted handles, and the likeness content rules for any cameo that shows a face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers.consent_world import drawing_png, face_png, face_rgb, png
from helpers.face_copies import clip, copies

from sora_lab.consent.faces import detect_faces
from sora_lab.consent.likeness import MATCH_DISTANCE, face_embedding
from sora_lab.core.errors import Conflict, InputError
from sora_lab.core.ids import utcnow


def photos_allowed(lab) -> None:
    lab.admin.update_settings(changes={"cameo_liveness_required": False})


def variants(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """What someone re-uploading another person's photo would try (benchmarks/likeness.py tries more)."""
    made = copies(rgb)
    return {k: made[k] for k in ("jpeg q10", "half size", "crop 1", "mirrored", "grey", "re-photographed 0")}


def embed(rgb: np.ndarray) -> np.ndarray:
    return face_embedding(rgb, detect_faces(rgb)[0])


# --- liveness by default ------------------------------------------------------------------------


def test_a_person_cameo_needs_liveness_unless_the_operator_turns_it_off(lab):
    assert lab.admin.settings()["cameo_liveness_required"] is True
    with pytest.raises(InputError, match="liveness"):
        lab.cameos.create(as_user="maya", image=face_png())
    cat = lab.cameos.create(as_user="lena", image=drawing_png(), kind="character", handle="cat")
    assert cat["handle"] == "lena/cat"
    photos_allowed(lab)
    assert lab.cameos.create(as_user="maya", image=face_png())["handle"] == "maya"


# --- a face is never a character -------------------------------------------------------------------------


def test_a_human_face_is_refused_as_a_character(lab):
    for name in ("astronaut", "biden", "hopper"):
        with pytest.raises(InputError, match="register it as a person cameo"):
            lab.cameos.create(as_user="theo", image=face_png(name), kind="character", handle="toy")
    video = clip([cv2.resize(face_rgb("obama"), (256, 256))] * 6)
    with pytest.raises(InputError, match="register it as a person cameo"):
        lab.cameos.create(as_user="theo", video=video, kind="character", handle="toy")
    assert lab.cameos.mine(as_user="theo") == []


# --- one cameo per face ----------------------------------------------------------------------------------


def test_a_registered_face_is_refused_again_in_any_copy_and_its_owner_sees_it(lab):
    photos_allowed(lab)
    lab.cameos.create(as_user="maya", image=face_png("astronaut"))
    lab.cameos.create(as_user="theo", image=face_png("obama"))
    attempts = [("jonas", png(rgb)) for rgb in variants(face_rgb("astronaut")).values()]
    attempts.append(("lena", face_png("obama2")))  # another photograph of theo's face
    for user, image in attempts:
        with pytest.raises(Conflict, match="already registered as someone else's cameo"):
            lab.cameos.create(as_user=user, image=image)
    trail = [e for e in lab.cameos.audit(as_user="maya", handle="maya") if e["type"] == "cameo_face_match"]
    assert [e["actor"] for e in trail] == ["jonas"] * (len(attempts) - 1)
    assert all(e["props"]["refused"] and e["props"]["distance"] < MATCH_DISTANCE for e in trail)
    assert [e["actor"] for e in lab.cameos.audit(as_user="theo", handle="theo")
            if e["type"] == "cameo_face_match"] == ["lena"]
    assert lab.cameos.mine(as_user="jonas") == [] and lab.cameos.mine(as_user="lena") == []
    assert lab.cameos.create(as_user="priya", image=face_png("biden"))["handle"] == "priya"  # a new face is fine


def test_embedding_distances_separate_copies_from_other_people():
    """The measurement behind MATCH_DISTANCE, on the faces the lab has (benchmarks/likeness.py prints more)."""
    people = {name: embed(face_rgb(name)) for name in ("astronaut", "obama", "biden", "hopper")}
    copies = [(name, label, float(np.linalg.norm(embed(rgb) - people[name])))
              for name in ("astronaut", "biden") for label, rgb in variants(face_rgb(name)).items()]
    same_man = [float(np.linalg.norm(embed(face_rgb(n)) - people["obama"])) for n in ("obama2", "obama3")]
    others = [float(np.linalg.norm(people[a] - people[b])) for a in people for b in people if a < b]
    assert max(d for *_, d in copies) < MATCH_DISTANCE, copies
    assert max(same_man) < MATCH_DISTANCE, same_man
    assert min(others) > MATCH_DISTANCE + 0.1, others


def test_cameos_registered_before_embeddings_are_compared_too(lab, services):
    photos_allowed(lab)
    lab.cameos.create(as_user="maya", image=face_png("astronaut"))
    with services.store.write() as cur:  # as a lab made before this check kept embeddings
        cur.execute("UPDATE cameos SET face_embedding = NULL, has_face = NULL")
    with pytest.raises(Conflict):
        lab.cameos.create(as_user="theo", image=face_png("astronaut"))
    with services.store.read() as cur:
        assert cur.execute("SELECT has_face FROM cameos").fetchall() == [(True,)]


# --- handles cannot be squatted --------------------------------------------------------------------------


def test_handles_belong_to_their_accounts(lab, services):
    photos_allowed(lab)
    with pytest.raises(InputError, match="your account handle @theo"):
        lab.cameos.create(as_user="theo", image=face_png("obama"), handle="lena")
    toy = lab.cameos.create(as_user="theo", image=drawing_png(), kind="character", handle="@theo/toy",
                            permission="everyone")
    assert toy["handle"] == "theo/toy"
    with pytest.raises(InputError, match="starts with your own handle"):
        lab.cameos.create(as_user="theo", image=drawing_png(1), kind="character", handle="lena/toy")
    with pytest.raises(InputError):
        lab.accounts.signup(handle="theo/toy", region="US")  # no account handle can look like a character's
    assert lab.policy.check(as_user="jonas", prompt="@theo/toy waving")["allowed"]


def test_a_squatted_handle_from_before_resolves_to_nobody_and_is_released(lab, services):
    photos_allowed(lab)
    lab.cameos.create(as_user="theo", image=face_png("obama"))
    with services.store.write() as cur:  # theo's cameo under lena's handle, as the old rules allowed
        cur.execute("UPDATE cameos SET handle = 'lena', permission = 'everyone'")
    refused = lab.policy.check(as_user="jonas", prompt="@lena dancing at a party")
    assert [r["code"] for r in refused["reasons"]] == ["cameo_unknown"]
    assert lab.cameos.create(as_user="lena", image=face_png("biden"), permission="everyone")["handle"] == "lena"
    assert [c["handle"] for c in lab.cameos.mine(as_user="theo")] == ["theo/lena"]
    assert lab.policy.check(as_user="jonas", prompt="@lena dancing at a party")["cameo_ids"] == [
        lab.cameos.get(as_user="lena", handle="lena")["cameo_id"]]


# --- the likeness content rules follow the face, not the label --------------------------------------------


def test_likeness_rules_apply_to_any_cameo_that_shows_a_face(lab, services):
    lab.cameos.create(as_user="theo", image=drawing_png(), kind="character", handle="toy", permission="everyone")
    for prompt in ("@theo/toy in lingerie, seductive", "@theo/toy punching a man in a dark alley"):
        assert lab.policy.check(as_user="jonas", prompt=prompt)["allowed"], prompt  # a drawing: no likeness
    with services.store.write() as cur:  # a character from before faces were checked: unknown, so a face
        cur.execute("UPDATE cameos SET has_face = NULL, created_at = ?", [utcnow()])
    codes = {p: [r["code"] for r in lab.policy.check(as_user="jonas", prompt=p)["reasons"]]
             for p in ("@theo/toy in lingerie, seductive", "@theo/toy punching a man in a dark alley")}
    assert codes == {"@theo/toy in lingerie, seductive": ["sexual_likeness"],
                     "@theo/toy punching a man in a dark alley": ["violence_likeness"]}


def test_a_lone_x_is_not_a_sexual_term(lab):
    assert lab.policy.check(as_user="jonas", prompt="a red x on a board")["allowed"]
    assert lab.policy.check(as_user="jonas", prompt="an x marks the spot on a treasure map")["allowed"]
    for prompt in ("an xxx video", "x x x clip of a couple"):
        assert not lab.policy.check(as_user="jonas", prompt=prompt)["allowed"], prompt

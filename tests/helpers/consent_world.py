"""A lab with cameos, grants, revocations, restrictions and rights registrations,
shared by the policy and cameo tests (the red-team set assumes exactly this world).

    @maya     person, mutuals  (theo is a mutual)   rules: no political content,
                                                     never say the word banana, always wearing a hat
    @theo     person, everyone (jonas revoked)      rule: no alcohol
    @priya    person, approved (lena approved)
    @jonas    person, only_me
    @lena/cat character, everyone
    @sam      person, everyone, linked to the public figure "Sam Altman"
    rights:   Captain Comet (allow), Bluey (allow_with_attribution), Professor Paradox (block, described)

Each person's cameo is a different real face (a face can belong to one cameo only), registered from
a photo: the world turns the operator setting `cameo_liveness_required` off, as a demo would.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from sora_lab.lab import Lab

FACES_DIR = Path(__file__).resolve().parents[1] / "data" / "faces"
PEOPLE_FACES = {"maya": "astronaut", "theo": "obama", "priya": "biden", "jonas": "hopper", "sam": "lfw74"}
"""Whose photo each person of the world registers (faces.md in tests/data/faces says where each is from)."""


@cache
def face_rgb(name: str = "astronaut") -> np.ndarray:
    """A real photograph with one frontal face, RGB: 'astronaut' (NASA, in scikit-image), 'hopper'
    (US Navy, in matplotlib), 'obama', 'obama2', 'obama3', 'biden' (White House, tests/data/faces),
    or 'lfw74' (a 25x25 face of scikit-image's LFW subset, enlarged)."""
    from skimage import data

    if name == "astronaut":
        return data.astronaut()
    if name == "hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    if name.startswith("lfw"):
        gray = (data.lfw_subset()[int(name[3:])] * 255).astype(np.uint8)
        return cv2.cvtColor(cv2.resize(gray, (256, 256), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(cv2.imread(str(FACES_DIR / f"{name}.jpg")), cv2.COLOR_BGR2RGB)


def png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def face_png(name: str = "astronaut") -> bytes:
    """`face_rgb(name)` as PNG bytes, as a person uploads it."""
    return png(face_rgb(name))


def no_face_png() -> bytes:
    """A real photograph with no face (a cup of coffee, bundled in scikit-image)."""
    from skimage import data

    return cv2.imencode(".png", cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))[1].tobytes()


def drawing_png(seed: int = 0) -> bytes:
    """A drawn character (a cat-like shape): no human face, fine as a character cameo."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 200, 3), 235, np.uint8)
    color = tuple(int(c) for c in rng.integers(40, 200, 3))
    cv2.circle(img, (100, 110), 60, color, -1)
    cv2.fillPoly(img, [np.array([[50, 80], [70, 20], [95, 60]])], color)
    cv2.fillPoly(img, [np.array([[150, 80], [130, 20], [105, 60]])], color)
    return cv2.imencode(".png", img)[1].tobytes()


def build_consent_world(lab: Lab) -> Lab:
    """Seed `lab` (an empty embedded one) with the world above; returns it, for chaining."""
    lab.admin.seed_demo()
    lab.admin.update_settings(changes={"cameo_liveness_required": False})  # photos, not liveness clips
    code = lab.accounts.invite(as_user="lab")["code"]
    lab.accounts.redeem(code=code, handle="sam", region="US")
    faces = {who: face_png(name) for who, name in PEOPLE_FACES.items()}
    lab.cameos.create(
        as_user="maya",
        image=faces["maya"],
        permission="mutuals",
        restrictions=["no political content", "never say the word banana", "always wearing a hat"],
    )
    lab.cameos.create(as_user="theo", image=faces["theo"], permission="everyone", restrictions=["no alcohol"])
    lab.cameos.revoke(as_user="theo", handle="theo", user="jonas")
    lab.cameos.create(as_user="priya", image=faces["priya"], permission="approved")
    lab.cameos.approve(as_user="priya", handle="priya", user="lena")
    lab.cameos.create(as_user="jonas", image=faces["jonas"], permission="only_me")
    lab.cameos.create(as_user="lena", image=drawing_png(), kind="character", handle="cat", permission="everyone")
    lab.cameos.create(as_user="sam", image=faces["sam"], permission="everyone")
    lab.rights.link_public_figure(figure="Sam Altman", cameo="sam")
    lab.rights.register(holder="Example Studios", ip_name="Captain Comet", policy="allow")
    lab.rights.register(holder="Ludo Studio", ip_name="Bluey", policy="allow_with_attribution")
    lab.rights.register(
        holder="Example Studios",
        ip_name="Professor Paradox",
        policy="block",
        description="a time-travelling professor with a clockwork monocle and a purple top hat",
    )
    return lab

"""A lab with cameos, grants, revocations, restrictions and rights registrations,
shared by the policy and cameo tests (the red-team set assumes exactly this world).

    @maya     person, mutuals  (theo is a mutual)   rules: no political content,
                                                     never say the word banana, always wearing a hat
    @theo     person, everyone (jonas revoked)      rule: no alcohol
    @priya    person, approved (lena approved)
    @jonas    person, only_me
    @lena.cat character, everyone
    @sam      person, everyone, linked to the public figure "Sam Altman"
    rights:   Captain Comet (allow), Bluey (allow_with_attribution), Professor Paradox (block, described)
"""

from __future__ import annotations

import cv2
import numpy as np

from sora_lab.lab import Lab


def face_png() -> bytes:
    """A real photograph with one frontal face (NASA astronaut portrait, public domain, bundled in scikit-image)."""
    from skimage import data

    return cv2.imencode(".png", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()


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
    code = lab.accounts.invite(as_user="lab")["code"]
    lab.accounts.redeem(code=code, handle="sam", region="US")
    face = face_png()
    lab.cameos.create(
        as_user="maya",
        image=face,
        permission="mutuals",
        restrictions=["no political content", "never say the word banana", "always wearing a hat"],
    )
    lab.cameos.create(as_user="theo", image=face, permission="everyone", restrictions=["no alcohol"])
    lab.cameos.revoke(as_user="theo", handle="theo", user="jonas")
    lab.cameos.create(as_user="priya", image=face, permission="approved")
    lab.cameos.approve(as_user="priya", handle="priya", user="lena")
    lab.cameos.create(as_user="jonas", image=face, permission="only_me")
    lab.cameos.create(as_user="lena", image=drawing_png(), kind="character", handle="lena.cat", permission="everyone")
    lab.cameos.create(as_user="sam", image=face, permission="everyone")
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

"""A workshop, walked through: two seats on one room's lab (a real server). Ada runs the notebooks as a learner
would, 01 → 03 → 04 → 05, her seat's code only in the first; Bob takes the second seat, finds her clip in his
feed and likes it. Her clip must reach 04's ranking and her events 05's live chart."""

from __future__ import annotations

from helpers import REPO
from helpers.notebooks import execute, text_outputs
from helpers.processes import ServerProcess

from sora_lab.admin.demo import DEMO_CLIPS
from sora_lab.lab import Lab

NB = REPO / "notebooks"


def test_one_learners_clip_goes_from_01_to_the_feed_and_the_metrics(seeded_home):
    with Lab.open(seeded_home) as lab:  # the room's catalogue, as `make demo` makes it (2-second clips here)
        for author, prompt, seed in DEMO_CLIPS:
            lab.videos.generate(as_user=author, prompt=prompt, seed=seed, seconds=2)
    server = ServerProcess(seeded_home).start()
    try:
        operator = Lab.connect(server.url, home=seeded_home)
        seats = operator.workshop.open(seats=2)["seats"]
        room = {"SORA_LAB_HOME": str(seeded_home), "SORA_LAB_SERVER": None, "SORA_LAB_HANDLE": "ada"}
        times = {}

        nb01, times["01"] = execute(NB / "01_prompt_lab.ipynb", room | {"SORA_LAB_SEAT": seats[0]["code"]})
        ada = Lab.connect(server.url, home=seeded_home)  # the tokens her kernel saved in the home
        clips = ada.videos.list_mine(as_user="ada", status="published")
        assert clips, "01 published no clip for its learner"
        clip = clips[-1]  # the first she published: her workshop clip

        bob = Lab(seeded_home, url=server.url)
        assert bob.join("bob", code=seats[1]["code"]) == "bob"
        seen, cursor = [], None
        while True:
            page = bob.feed.page(as_user="bob", cursor=cursor, limit=20)
            seen += [item["video_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert clip["video_id"] in seen, "Ada's clip is not in Bob's feed"
        bob.engagement.record(as_user="bob", events=[{"type": "like", "video_id": clip["video_id"],
                                                      "client_event_id": "walkthrough-like"}])

        seat_only_once = room | {"SORA_LAB_SEAT": None}
        nb03, times["03"] = execute(NB / "03_cameos_and_consent.ipynb", seat_only_once)
        nb04, times["04"] = execute(NB / "04_feed_ranking.ipynb", seat_only_once)
        shown = text_outputs(nb04)
        assert clip["video_id"] in shown or clip["prompt"] in shown, "04's ranking does not show Ada's clip"
        nb05, times["05"] = execute(NB / "05_growth_metrics.ipynb", seat_only_once)
        live = text_outputs(nb05)
        assert "type: generate" in live, "05's live chart does not draw Ada's generate event"

        view = {s["handle"]: s for s in operator.workshop.status()["seats"]}
        assert view["ada"]["clips"] >= 1 and view["ada"]["likes_received"] >= 1 and view["bob"]["likes_given"] >= 1
        print("walk-through notebook times (s):", {k: round(v, 1) for k, v in times.items()})
    finally:
        server.stop()

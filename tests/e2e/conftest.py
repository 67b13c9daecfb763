"""The served feed the browser tests share: real clips, the lab server and Voilà over one home."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.browser import PAGE_SIZE
from helpers.processes import ServerProcess, VoilaProcess

from sora_lab.lab import Lab

PROMPTS = [
    ("theo", "a calm ocean wave rolling onto a beach at sunset"),
    ("priya", "spinning stars in a purple night sky"),
    ("lena", "a red fox running through fresh snow"),
    ("jonas", "neon city street in the rain at night"),
    ("theo", "a bowl of ramen steaming on a wooden table"),
    ("priya", "a paper boat drifting on a pond"),
    ("lena", "a hot air balloon rising over green hills"),
    ("jonas", "a lighthouse beam sweeping over dark sea"),
]


def generate_clips(home: Path, prompts=PROMPTS, seconds: float = 3.0) -> list[str]:
    """Real clips through the generation service (embedded, before the server takes the file)."""
    with Lab.open(home) as lab:
        return [lab.videos.generate(as_user=author, prompt=prompt, seconds=seconds)["video_id"]
                for author, prompt in prompts]


@pytest.fixture
def feed_stack(seeded_home, tmp_path):
    """Server + Voilà over a lab with real clips."""
    ids = generate_clips(seeded_home, PROMPTS[:7], seconds=2.0)
    server = ServerProcess(seeded_home).start()
    voila = VoilaProcess(seeded_home, tmp_path, page_size=PAGE_SIZE).start()
    yield {"home": seeded_home, "server": server, "voila": voila, "video_ids": ids}
    voila.stop()
    server.stop()

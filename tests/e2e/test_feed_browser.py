"""The Voilà feed in a real browser: scroll past two pages, a clip plays, a like survives a reload.

Needs real clips (the tiny generator), the lab server, Voilà and Debian's chromium.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, REPO, ServerProcess, free_port

from sora_lab.apps.demo_runner import voila_args
from sora_lab.lab import Lab

pytestmark = [pytest.mark.browser]

PAGE_SIZE = 3
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


class VoilaProcess:
    """`voila dashboards/feed.ipynb` on a free port, with the lab home in its environment."""

    def __init__(self, home: Path, log_dir: Path):
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(log_dir / f"voila-{self.port}.log", "ab")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> VoilaProcess:
        env = os.environ | {"SORA_LAB_HOME": str(self.home), "SORA_LAB_FEED_PAGE_SIZE": str(PAGE_SIZE)}
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "voila"), *voila_args(self.port)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}api/kernelspecs", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"voila did not answer within {timeout}s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def feed_stack(seeded_home, tmp_path):
    """Server + Voilà over a lab with real clips."""
    ids = generate_clips(seeded_home, PROMPTS[:7], seconds=2.0)
    server = ServerProcess(seeded_home).start()
    voila = VoilaProcess(seeded_home, tmp_path).start()
    yield {"home": seeded_home, "server": server, "voila": voila, "video_ids": ids}
    voila.stop()
    server.stop()


def open_feed(browser, url: str, viewer: str, timeout_ms: int = 240_000):
    """A new context on the feed as `viewer`; returns (context, page, timings in ms).

    'interactive' is when the widget (controls and phone) is on the page — Voilà has run the
    notebook and the kernel is connected; 'first_clip' is when the first clip shows a frame.
    """
    context = browser.new_context(viewport={"width": 520, "height": 1200})
    page = context.new_page()
    page.goto(f"{url}?as={viewer}", wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(".sl-root [data-testid=steer-input]", state="visible", timeout=timeout_ms)
    interactive = page.evaluate("performance.now()")
    page.wait_for_function(
        "(() => { const v = document.querySelector('[data-testid=clip] video'); "
        "return v && v.readyState >= 2 && v.getBoundingClientRect().height > 0; })()",
        timeout=timeout_ms, polling=50,
    )
    first_clip = page.evaluate("performance.now()")
    return context, page, {"navigation_to_interactive_ms": round(interactive),
                           "interactive_to_first_clip_ms": round(first_clip - interactive)}


def visible_index(page) -> int:
    return int(page.evaluate("document.querySelector('.sl-root').dataset.visibleIndex || '-1'"))


def scroll_next(page) -> None:
    page.evaluate("(() => { const f = document.querySelector('[data-testid=feed]'); "
                  "f.scrollBy(0, f.clientHeight); })()")


def go_to(page, index: int, timeout_s: float = 60) -> None:
    """Scroll the feed to clip `index` like a swipe would, waiting for the page holding it to arrive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.evaluate(f"(() => {{ const f = document.querySelector('[data-testid=feed]'); "
                      f"f.scrollTo(0, {index} * f.clientHeight); }})()")
        time.sleep(0.4)
        if visible_index(page) >= index:
            return
    state = page.evaluate("({...document.querySelector('.sl-root').dataset})")
    raise AssertionError(f"could not scroll to clip {index}: {state}")


def wait_playing(page, timeout_s: float = 30) -> dict:
    """The visible clip reaches readyState >= 2 and its currentTime advances."""
    script = """(() => { const root = document.querySelector('.sl-root');
        const i = Number(root.dataset.visibleIndex);
        const v = document.querySelectorAll('[data-testid=clip] video')[i];
        return {readyState: v.readyState, t: v.currentTime, src: v.currentSrc, paused: v.paused,
                duration: v.duration, hidden: document.hidden, feed: {...root.dataset}};
        })()"""
    deadline = time.monotonic() + timeout_s
    first = None
    while time.monotonic() < deadline:
        state = page.evaluate(script)
        if state["readyState"] >= 2:
            if first is None:
                first = state
            elif state["t"] > first["t"]:
                return {"first": first, "later": state}
        time.sleep(0.3)
    raise AssertionError(f"the visible clip did not play: {page.evaluate(script)}")


def freeze_visible_clock(page, until: str) -> dict:
    """Make the visible clip's clock stand still, as a CPU-starved browser does, until the feed
    seeks it (`until="seek"`) or reloads its source (`until="reload"`; seeks do nothing then).

    Returns the feed's stall recovery counters from before, by their data attribute.
    """
    return page.evaluate("""(until) => {
        const root = document.querySelector('.sl-root');
        const v = document.querySelectorAll('[data-testid=clip] video')[Number(root.dataset.visibleIndex)];
        const frozen = v.currentTime;
        const thaw = () => { delete v.currentTime; delete v.load; };
        Object.defineProperty(v, 'currentTime', {configurable: true, get: () => frozen,
            set(t) { if (until === 'seek') { thaw(); v.currentTime = t; } }});
        v.load = () => { thaw(); v.load(); };
        return {stallNudges: Number(root.dataset.stallNudges || '0'),
                stallReloads: Number(root.dataset.stallReloads || '0')};
    }""", until)


def wait_recovered(page, until: str, before: dict) -> None:
    """The feed made the recovery that thaws the clock, and the clip plays on."""
    counter = {"seek": "stallNudges", "reload": "stallReloads"}[until]
    page.wait_for_function(f"Number(document.querySelector('.sl-root').dataset.{counter} || '0') > {before[counter]}",
                           timeout=20_000)
    wait_playing(page)


def visible_clip(page):
    return page.locator("[data-testid=clip]").nth(visible_index(page))


def test_feed_scrolls_plays_and_keeps_a_like(feed_stack, output_dir):
    from playwright.sync_api import sync_playwright

    voila, home = feed_stack["voila"], feed_stack["home"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context, page, timings = open_feed(browser, voila.url, "maya")
        page.wait_for_function("document.querySelector('.sl-root').dataset.visibleIndex === '0'", timeout=60_000)
        playing = wait_playing(page)

        # A clip whose clock stops while it should play is nudged back into motion by the feed,
        # and reloaded where it stood when nudges do not help.
        for until in ("seek", "reload"):
            wait_recovered(page, until, freeze_visible_clock(page, until))

        # Scroll past two pages: the widget must fetch pages 2 and 3 before the end.
        for step in range(1, 2 * PAGE_SIZE + 1):
            go_to(page, step)
        clips = int(page.evaluate("document.querySelector('.sl-root').dataset.clips"))
        assert clips > 2 * PAGE_SIZE
        wait_playing(page)
        shown = page.eval_on_selector_all("[data-testid=clip]", "els => els.map(e => e.dataset.videoId)")
        assert len(shown) == len(set(shown))

        clip = visible_clip(page)
        liked_id = clip.get_attribute("data-video-id")
        clip.locator("[data-testid=like-button]").click()
        page.wait_for_function(
            f"document.querySelector('[data-video-id=\"{liked_id}\"] [data-testid=like-button]')"
            ".dataset.liked === 'true'", timeout=30_000)
        assert clip.locator("[data-testid=like-button] .sl-count").inner_text() == "1"
        page.screenshot(path=str(output_dir / "feed-liked.png"))

        page.reload(wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid=clip] video", state="visible", timeout=180_000)
        for _ in range(len(feed_stack["video_ids"]) + 2):
            if page.locator(f"[data-video-id='{liked_id}']").count():
                break
            scroll_next(page)
            time.sleep(0.8)
        like_button = page.locator(f"[data-video-id='{liked_id}'] [data-testid=like-button]")
        assert like_button.get_attribute("data-liked") == "true"
        assert like_button.locator(".sl-count").inner_text() == "1"
        page.screenshot(path=str(output_dir / "feed-after-reload.png"))
        context.close()
        browser.close()
    lab = Lab.connect(feed_stack["server"].url, home=home)
    assert lab.engagement.counts(as_user="maya", video_id=liked_id)["likes"] == 1
    (output_dir / "timings.json").write_text(
        json.dumps(timings | {"first_play": playing}, indent=2)
    )

"""The Voilà feed in a real browser: scroll past two pages, a clip plays, a like survives a reload.

Needs real clips (the tiny generator), the lab server, Voilà and Debian's chromium.
"""

from __future__ import annotations

import json
import time

import pytest
from helpers.browser import CHROMIUM, CHROMIUM_ARGS, PAGE_SIZE, open_feed, visible_clip, visible_index, wait_playing

from sora_lab.lab import Lab

pytestmark = [pytest.mark.browser]


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


def test_feed_scrolls_plays_and_keeps_a_like(feed_stack, output_dir):
    from playwright.sync_api import sync_playwright

    voila, home = feed_stack["voila"], feed_stack["home"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context, page, timings = open_feed(browser, voila.url, "maya", home)
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

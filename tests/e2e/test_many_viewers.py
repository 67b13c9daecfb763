"""Many viewers on one lab at once: two browsers on the Voilà feed, a notebook-like client,
threads liking through the server and the Panel growth dashboard open in a third page —
no lock errors, no lost likes, exact counts."""

from __future__ import annotations

import json
import threading

import pytest
from helpers.browser import CHROMIUM, CHROMIUM_ARGS, open_feed, operator_sign_in, visible_clip, wait_playing
from helpers.processes import PanelProcess

from sora_lab.lab import Lab

pytestmark = [pytest.mark.browser]

NOTEBOOK_USERS = ["priya", "jonas", "lena"]


def test_two_browsers_a_notebook_and_threads_at_once(feed_stack, output_dir):
    from playwright.sync_api import sync_playwright

    server, voila, home = feed_stack["server"], feed_stack["voila"], feed_stack["home"]
    videos = feed_stack["video_ids"]
    errors: list[BaseException] = []
    start = threading.Event()

    def notebook_client(handle: str) -> None:
        """What a notebook does through Lab.auto(): page the feed and like everything, twice (a retry)."""
        try:
            lab = Lab.connect(server.url, home=home)
            start.wait(120)
            for attempt in range(2):
                for n, video in enumerate(videos):
                    lab.engagement.record(as_user=handle, events=[
                        {"type": "like", "video_id": video, "client_event_id": f"nb-{handle}-{n}"},
                        {"type": "view", "video_id": video, "watch_ms": 1500 + attempt,
                         "client_event_id": f"nb-view-{handle}-{n}"},
                    ])
                lab.feed.page(as_user=handle, limit=3)
            lab.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=notebook_client, args=(h,)) for h in NOTEBOOK_USERS]
    for t in threads:
        t.start()
    panel = PanelProcess(home).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx_a, page_a, _ = open_feed(browser, voila.url, "maya", home)
            ctx_b, page_b, _ = open_feed(browser, voila.url, "theo", home)
            growth = browser.new_page(viewport={"width": 1300, "height": 1600})
            operator_sign_in(growth, panel.url, home)
            start.set()
            liked: dict[str, str] = {}
            for handle, page in (("maya", page_a), ("theo", page_b)):
                page.wait_for_function("document.querySelector('.sl-root').dataset.visibleIndex === '0'",
                                       timeout=60_000)
                wait_playing(page)
                clip = visible_clip(page)
                liked[handle] = clip.get_attribute("data-video-id")
                clip.locator("[data-testid=like-button]").click()
            for handle, page in (("maya", page_a), ("theo", page_b)):
                page.wait_for_function(
                    f"document.querySelector('[data-video-id=\"{liked[handle]}\"] [data-testid=like-button]')"
                    ".dataset.liked === 'true'", timeout=60_000)
            for t in threads:
                t.join(300)
            # The dashboard read the same lab through the server while everyone was liking.
            growth.locator(".growth-status").filter(has_text="update 1").wait_for(timeout=120_000)
            assert growth.locator(".vega-embed canvas, .vega-embed svg.marks").count() >= 1
            growth.screenshot(path=str(output_dir / "growth.png"))
            page_a.screenshot(path=str(output_dir / "maya.png"))
            page_b.screenshot(path=str(output_dir / "theo.png"))
            # How often the feed had to restart a stalled clip under this load (read when CI is slow).
            recoveries = {handle: page.evaluate("({...document.querySelector('.sl-root').dataset})")
                          for handle, page in (("maya", page_a), ("theo", page_b))}
            (output_dir / "stall_recoveries.json").write_text(json.dumps(recoveries, indent=2))
            ctx_a.close()
            ctx_b.close()
            browser.close()
    finally:
        panel.stop()
    assert not errors, errors
    lab = Lab.connect(server.url, home=home)
    for video in videos:
        counts = lab.engagement.counts(as_user="maya", video_id=video)
        browser_likes = sum(1 for v in liked.values() if v == video)
        assert counts["likes"] == len(NOTEBOOK_USERS) + browser_likes, (video, counts)
        assert counts["views"] >= len(NOTEBOOK_USERS)
    log = "".join(p.read_text(errors="replace") for p in home.parent.glob("server-*.log"))
    assert "could not set lock" not in log.lower() and "conflicting lock" not in log.lower()
    assert "Traceback" not in panel.log_path.read_text(errors="replace")

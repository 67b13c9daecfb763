"""The growth dashboard served by `panel serve` over a running lab server, loaded in headless chromium."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers.browser import CHROMIUM, CHROMIUM_ARGS
from helpers.processes import PanelProcess, ServerProcess

from sora_lab.metrics.simulate import SimConfig, remember_scenario, run_scenario
from sora_lab.services import Services

pytestmark = pytest.mark.browser


@pytest.fixture
def growth_home(seeded_home) -> Path:
    """A seeded lab with one small simulated launch, closed so a server can own it."""
    config = SimConfig(scale=0.004, days=35)
    with closing(Services.open(seeded_home)) as services:
        run_scenario(services.store, config)
    remember_scenario(seeded_home, config)
    return seeded_home


@pytest.fixture
def dashboard(growth_home):
    server = ServerProcess(growth_home).start()
    panel = PanelProcess(growth_home)
    try:
        yield panel.start().url
    finally:
        panel.stop()
        server.stop()


def test_dashboard_renders_charts_and_reacts_to_a_filter(dashboard, output_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 2400})
        page.goto(dashboard, timeout=60_000)
        status_box = page.locator(".growth-status")  # Panel renders into shadow roots: locate, don't read HTML
        status_box.filter(has_text="update 1").wait_for(timeout=60_000)
        status = status_box.locator("p").first
        marks = page.locator(".vega-embed canvas, .vega-embed svg.marks")
        deadline = time.monotonic() + 30
        while marks.count() < 7 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert marks.count() >= 7, f"only {marks.count()} charts drawn"
        # expect() retries: Panel may be re-rendering the status paragraph at the moment it is read
        expect(status).to_contain_text("sim:default", timeout=10_000)
        expect(status).to_contain_text("region All", timeout=10_000)
        assert page.get_by_text("installs and invites alone do not count").count() >= 1

        region = page.locator("select:has(option[value='CA'])").first
        started = time.perf_counter()
        region.select_option("CA")
        status_box.filter(has_text="region CA").wait_for(timeout=10_000)
        reaction = time.perf_counter() - started
        expect(status).to_contain_text("update 2", timeout=10_000)
        text = status.inner_text()
        time.sleep(1.0)  # let vega finish drawing before the picture
        page.screenshot(path=str(output_dir / "growth_dashboard.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1300, "the page scrolls sideways"
        (output_dir / "filter_reaction_s.txt").write_text(f"{reaction:.3f}\n{text}\n")
        browser.close()
    assert reaction < 5, f"filter change took {reaction:.2f} s to show"

"""The growth dashboard served by `panel serve` over a running lab server, loaded in headless chromium.

Charts are checked as drawn: each pane's Vega view (the one Panel's bundled Vega-Lite compiled)
exports its scene as SVG, and helpers/vega_marks.py reads the bars, lines and points from it.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from helpers.browser import CHROMIUM, CHROMIUM_ARGS, block_outside, operator_sign_in
from helpers.processes import PanelProcess, ServerProcess
from helpers.vega_marks import growth_problems, legend, marks

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
        yield {"url": panel.start().url, "home": growth_home}
    finally:
        panel.stop()
        server.stop()


CHARTS = ("growth", "cumulative", "funnel", "retention", "invites", "regions", "compare")
# Every Vega view Panel drew, by the chart's css class, as the SVG of its current scene.
DRAWN_SVG = """async () => {
    const views = [];
    const walk = (view) => { if (view.vega_view) views.push(view); for (const c of view.child_views || []) walk(c); };
    for (const root of Bokeh.index.roots) walk(root);
    const out = {};
    for (const view of views) out[view.model.css_classes[0].slice(6)] = await view.vega_view.toSVG();
    return out;
}"""


def drawn_charts(page, expected: int = len(CHARTS), timeout_s: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        svgs = page.evaluate(DRAWN_SVG)
        if len(svgs) >= expected or time.monotonic() > deadline:
            return svgs
        time.sleep(0.3)


def chart_problems(svgs: dict[str, str], region_all: bool) -> list[str]:
    """Each chart's expected series, as drawn: bars, three user lines and (region All) the public figures."""
    problems = [f"{name}: not drawn" for name in CHARTS if name not in svgs]
    if "growth" in svgs:
        kinds = ("public figure",) if region_all else ()
        problems += [f"growth: {p}" for p in growth_problems(svgs["growth"], days=35, kinds=kinds)]
    drawn = {name: Counter(m.kind for m in marks(svg)) for name, svg in svgs.items()}
    expected = {"cumulative": ("area", "symbol") if region_all else ("area",), "funnel": ("rect",),
                "retention": ("rect",), "invites": ("rect",), "regions": ("rect",), "compare": ("line",)}
    for name, kinds in expected.items():
        problems += [f"{name}: no {kind} marks" for kind in kinds if not drawn.get(name, {}).get(kind)]
    if "regions" in svgs and set(legend(svgs["regions"])) != {"downloads", "active_users"}:
        problems.append(f"regions: legend {sorted(legend(svgs['regions']))}")
    return problems


def test_dashboard_renders_charts_and_reacts_to_a_filter(dashboard, output_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 2400})
        console = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        outside = block_outside(page)  # Panel must draw with the Vega it serves itself
        operator_sign_in(page, dashboard["url"], dashboard["home"])
        status_box = page.locator(".growth-status")  # Panel renders into shadow roots: locate, don't read HTML
        status_box.filter(has_text="update 1").wait_for(timeout=60_000)
        status = status_box.locator("p").first
        svgs = drawn_charts(page)
        for name, svg in svgs.items():
            (output_dir / f"{name}_region_all.svg").write_text(svg)
        assert chart_problems(svgs, region_all=True) == []
        for name in ("growth", "cumulative", "funnel", "invites", "regions"):  # "show at full size" is on
            assert "= full size)" in svgs[name], f"{name}: counts not shown at full size"
        time.sleep(1.0)  # let vega finish painting before the picture
        page.screenshot(path=str(output_dir / "growth_dashboard_all.png"), full_page=True)
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
        assert chart_problems(drawn_charts(page), region_all=False) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 1300, "the page scrolls sideways"
        assert outside == [], f"the dashboard asked outside this machine for {outside}"
        (output_dir / "filter_reaction_s.txt").write_text(f"{reaction:.3f}\n{text}\n")
        browser.close()
    (output_dir / "console.txt").write_text("\n".join(console))
    version_warnings = [line for line in console if "vega" in line.lower() and "version" in line.lower()]
    assert version_warnings == [], "the spec and the bundled Vega-Lite disagree"
    assert not [line for line in console if line.startswith("error")], console
    assert reaction < 5, f"filter change took {reaction:.2f} s to show"

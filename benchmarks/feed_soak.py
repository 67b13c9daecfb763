"""Feed soak: kernels are culled, memory per viewer, page load with many viewers open.

    python benchmarks/feed_soak.py [--visits 100] [--viewers 30] [--json]

Starts the demo as `make demo` does (a seeded lab in a temporary folder, other ports), then
1. opens the feed `--visits` times in sequence in headless chromium, each visit signed in with its own one-time
   login link and closed once its first clip plays; counts the Voilà kernels (its kernel child processes) before,
   right after, and once the culler has run (idle CULL_IDLE_S, checked every CULL_EVERY_S): they must come back
   to the pool size plus the pages still open (none);
2. opens `--viewers` pages at once, one after another, each kept open: page load (navigation to first clip) of
   each, its p50/p95, and the resident memory (RSS) of the kernels and Voilà divided by the viewers.
Needs Debian's chromium (`make browser`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sora_lab.apps.demo_runner import CULL_EVERY_S, CULL_IDLE_S, read_json, stop  # noqa: E402
from sora_lab.lab import Lab  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling"]
VIEWERS = ["maya", "theo", "priya", "lena", "jonas"]
POOL = 2
PORTS = {"SORA_LAB_PORT": "28765", "SORA_LAB_VOILA_PORT": "28866", "SORA_LAB_PANEL_PORT": "25006"}


def kernels(voila_pid: int) -> list[psutil.Process]:
    """The kernel processes Voilà started (its children running ipykernel)."""
    found = []
    for child in psutil.Process(voila_pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def open_signed_in(browser, feed: str, lab: Lab, viewer: str):
    """A new context signed in as `viewer` through a fresh login link; (context, ms from the feed's navigation to
    its first clip showing a frame)."""
    code = lab.signin.login_link(as_user=viewer)["code"]
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    page.goto(f"{feed}login?code={code}", wait_until="domcontentloaded", timeout=180_000)
    page.click("[data-testid=code-submit]")
    page.wait_for_function("(() => { const v = document.querySelector('[data-testid=clip] video'); "
                           "return v && v.readyState >= 2; })()", timeout=240_000, polling=50)
    return context, round(page.evaluate("performance.now()"))


def wait_for_kernels(voila_pid: int, at_most: int, timeout_s: float) -> tuple[int, float]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if len(kernels(voila_pid)) <= at_most:
            break
        time.sleep(2)
    return len(kernels(voila_pid)), round(time.monotonic() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=100)
    ap.add_argument("--viewers", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.visits < 0 or args.viewers < 1:
        sys.exit("error: --visits must be 0 or more and --viewers 1 or more")
    if not os.path.exists(CHROMIUM):
        sys.exit(f"error: needs Debian chromium at {CHROMIUM}; run `make browser`")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="sora-soak-")) / "lab"
    env = os.environ | {"SORA_LAB_HOME": str(home)} | PORTS
    feed = f"http://127.0.0.1:{PORTS['SORA_LAB_VOILA_PORT']}/"
    result: dict = {"pool": POOL, "cull_idle_s": CULL_IDLE_S, "cull_every_s": CULL_EVERY_S}
    try:
        out = subprocess.run([sys.executable, "-m", "sora_lab.apps.demo_runner", "--json"], cwd=REPO, env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"error: the demo did not start:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        voila_pid = read_json(home / "run" / "demo.json")["feed"]
        lab = Lab.auto(home)
        result["kernels_before"] = wait_for_kernels(voila_pid, POOL, 120)[0]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            loads = []
            for i in range(args.visits):
                context, ms = open_signed_in(browser, feed, lab, VIEWERS[i % len(VIEWERS)])
                context.close()
                loads.append(ms)
                if (i + 1) % 10 == 0:
                    print(f"  visit {i + 1}: {ms} ms, {len(kernels(voila_pid))} kernels alive", flush=True)
            result["soak_visits"] = args.visits
            result["kernels_right_after"] = len(kernels(voila_pid))
            result["kernels_after_cull"], result["cull_wait_s"] = wait_for_kernels(
                voila_pid, POOL, CULL_IDLE_S + 3 * CULL_EVERY_S + 60)
            if loads:
                result["soak_load_p50_ms"] = statistics.median(loads)
            print(f"  kernels: {result['kernels_before']} before, {result['kernels_right_after']} right after, "
                  f"{result['kernels_after_cull']} after {result['cull_wait_s']} s", flush=True)
            voila = psutil.Process(voila_pid)
            base_mb = rss_mb([voila, *kernels(voila_pid)])
            contexts, loads = [], []
            failed = 0
            for i in range(args.viewers):
                try:
                    context, ms = open_signed_in(browser, feed, lab, VIEWERS[i % len(VIEWERS)])
                except PlaywrightTimeout:  # counted, not fatal: a starved machine may not load one page in 4 min
                    failed += 1
                    print(f"  viewer {i + 1}: no first clip within 240 s", flush=True)
                    continue
                contexts.append(context)
                loads.append(ms)
                print(f"  viewer {i + 1}: {ms} ms, {len(kernels(voila_pid))} kernels", flush=True)
            open_mb = rss_mb([voila, *kernels(voila_pid)])
            result |= {"viewers": args.viewers, "kernels_with_viewers_open": len(kernels(voila_pid)),
                       "viewers_not_loaded": failed,
                       "rss_per_viewer_mb": round((open_mb - base_mb) / max(1, len(contexts)), 1),
                       "rss_voila_and_kernels_mb": round(open_mb, 1),
                       "load_p50_ms": statistics.median(loads),
                       "load_p95_ms": sorted(loads)[max(0, round(0.95 * len(loads)) - 1)], "load_max_ms": max(loads)}
            for context in contexts:
                context.close()
            browser.close()
        lab.close()
    finally:
        stop(home)
        shutil.rmtree(home.parent, ignore_errors=True)
    result["culled_to_pool"] = result.get("kernels_after_cull", POOL) <= POOL
    if args.json:
        print(json.dumps(result))
        return
    print(f"kernels: {result['kernels_before']} before, {result.get('kernels_right_after')} right after "
          f"{args.visits} visits, {result.get('kernels_after_cull')} after {result.get('cull_wait_s')} s "
          f"(pool {POOL}: {'OK' if result['culled_to_pool'] else 'NOT CULLED'})")
    print(f"{args.viewers} viewers open: {result['rss_per_viewer_mb']} MB RSS per viewer, page load p50 "
          f"{result['load_p50_ms']:.0f} ms, p95 {result['load_p95_ms']} ms, max {result['load_max_ms']} ms")


if __name__ == "__main__":
    main()

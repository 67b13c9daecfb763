"""Shared fixtures: a fresh lab home per test, and a real server on a free loopback port.

Slow tests run with `--runslow`; GPU tests need CUDA; browser tests need /usr/bin/chromium.
Each skip says why, so nothing is skipped silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sora_lab.lab import Lab

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Three browser windows share two cores in the many-viewers test; without the last three flags Chromium may treat
# the earliest window as backgrounded or occluded and stall its video (seen once in CI: a clip stuck mid-way for 30 s).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows", "--disable-background-timer-throttling"]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow test: run with --runslow (make test PYTEST_ARGS=--runslow)")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    skip_browser = pytest.mark.skip(reason=f"needs Debian chromium at {CHROMIUM} (make browser installs it)")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "browser" in item.keywords and not os.path.exists(CHROMIUM):
            item.add_marker(skip_browser)


@pytest.fixture
def home(tmp_path) -> Path:
    """An empty lab home folder."""
    path = tmp_path / "lab"
    path.mkdir()
    return path


@pytest.fixture
def lab(home) -> Lab:
    """An embedded lab with the operator (@lab) and demo people seeded (no clips)."""
    lab = Lab.open(home)
    lab.admin.seed_demo()
    yield lab
    lab.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`sora-lab serve` in a child process on a free loopback port (`warm`: load MiniLM at start,
    as `make demo` does; off by default so the many short-lived test servers stay light)."""

    def __init__(self, home: Path, *, warm: bool = False):
        self.home, self.warm = home, warm
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        log = open(self.home.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sora_lab.cli", "serve", "--home", str(self.home), "--port", str(self.port),
             *([] if self.warm else ["--no-warm"])],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /health within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def seeded_home(home) -> Path:
    """A lab home seeded with demo people, closed again so a server can own it."""
    with Lab.open(home) as lab:
        lab.admin.seed_demo()
    return home


@pytest.fixture
def server(seeded_home):
    """A running server over a seeded home; tokens are in the home's credentials.json."""
    proc = ServerProcess(seeded_home).start()
    yield proc
    proc.stop()


@pytest.fixture
def output_dir(request) -> Path:
    """test-output/<test name>/ for screenshots and other artefacts worth looking at."""
    path = REPO / "test-output" / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def insert_video_rows(store, author_id: str, n: int, *, status: str = "published", prefix: str = "") -> list[str]:
    """Video rows without media, for tests of storage, engagement and ranking logic.

    Ids are 32 hex characters, as real content ids are; no file exists behind them.
    """
    import hashlib

    from sora_lab.core.ids import utcnow

    ids = []
    now = utcnow()
    with store.write() as cur:
        for i in range(n):
            video_id = hashlib.sha256(f"{prefix}{author_id}{i}".encode()).hexdigest()[:32]
            cur.execute(
                "INSERT INTO videos (video_id, author_id, prompt, seed, backend, model, duration_ms, width, height, "
                "media_path, poster_path, provenance, status, parent_id, created_at, published_at) "
                "VALUES (?, ?, ?, ?, 'test', 'none', 10000, 360, 640, ?, NULL, NULL, ?, NULL, ?, ?)",
                [video_id, author_id, f"test clip {i}", i, f"videos/{video_id}.mp4", status, now, now],
            )
            ids.append(video_id)
    return ids

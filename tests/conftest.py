"""Shared fixtures: a fresh lab home per test, its services and embedded lab, and a real server on a
free loopback port. Code the tests share that is not a fixture lives in tests/helpers/.

Slow tests run with `--runslow`; GPU tests need CUDA; browser tests need /usr/bin/chromium.
Each skip says why, so nothing is skipped silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import REPO
from helpers.browser import CHROMIUM
from helpers.processes import ServerProcess

from sora_lab.lab import Lab
from sora_lab.services import Services


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
def services(home) -> Services:
    """The lab's services over its DuckDB file, owned by this process: for tests that write rows
    directly or call a service the facade does not expose. Closed at the end of the test."""
    services = Services.open(home)
    yield services
    services.close()


@pytest.fixture
def lab(home, services) -> Lab:
    """An embedded lab over `services`, with the operator (@lab) and demo people seeded (no clips)."""
    lab = Lab(home, services=services)
    lab.admin.seed_demo()
    return lab


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

"""The lab's served apps as child processes on free loopback ports: the API server, Voilà, Panel.

Each `start()` waits until the app answers and each `stop()` ends only the process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from helpers import REPO
from sora_lab.apps.demo_runner import panel_args, panel_env, voila_args, voila_env


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


class VoilaProcess:
    """`voila dashboards/feed.ipynb` on a free port, with the lab home in its environment."""

    def __init__(self, home: Path, log_dir: Path, *, page_size: int):
        self.home, self.port, self.page_size = home, free_port(), page_size
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(log_dir / f"voila-{self.port}.log", "ab")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> VoilaProcess:
        env = os.environ | {"SORA_LAB_HOME": str(self.home), "SORA_LAB_FEED_PAGE_SIZE": str(self.page_size)}
        env |= voila_env()  # the feed's offline page template
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


class PanelProcess:
    """`panel serve dashboards/growth.py` on a free port for a lab home (the server must be running)."""

    def __init__(self, home: Path):
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}/growth"
        self.log_path = home.parent / f"panel-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> PanelProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "panel", *panel_args(self.port)],
            cwd=REPO, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
            env=os.environ | {"SORA_LAB_HOME": str(self.home)} | panel_env(self.home),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/login", timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"panel serve did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

"""The server loads MiniLM at start, so the first feed page does not wait 7-11 s for it."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

import sora_lab.core.embeddings as embeddings
from sora_lab.api.server import create_app


def test_concurrent_first_uses_wait_for_one_load(monkeypatch):
    loads = []

    def slow_load(device):
        loads.append(device)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(embeddings, "_load", slow_load)  # the lock, not the cache, is under test
    monkeypatch.setattr(embeddings, "_loaded", {})  # the stand-in models must not outlive this test
    got = []
    threads = [threading.Thread(target=lambda: got.append(embeddings._model())) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4
    assert time.monotonic() - started >= 0.8  # serialised: nobody loads beside another loader
    assert loads == ["cpu"] * 4  # every call went through the loader, one at a time


def test_a_warm_server_loads_the_text_model_in_the_background(home, monkeypatch):
    loaded = threading.Event()
    monkeypatch.setattr(embeddings, "warm", loaded.set)
    with TestClient(create_app(home, warm=True)) as client:
        assert client.get("/health").json()["ok"]  # answers at once, the load runs beside it
        assert loaded.wait(10)


def test_a_cold_server_leaves_the_model_for_first_use(home, monkeypatch):
    loaded = threading.Event()
    monkeypatch.setattr(embeddings, "warm", loaded.set)
    with TestClient(create_app(home)) as client:
        assert client.get("/health").json()["ok"]
    assert not loaded.wait(0.5)

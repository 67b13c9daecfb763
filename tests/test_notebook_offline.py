"""Notebook 05 run with no way out to the network, as in a room without one: every chart must still be drawn.

The block: the kernel runs in a network namespace of its own (`unshare --net`, as root, or inside a user
namespace otherwise), where the only interface is a loopback that is down, so no connection can leave;
it talks to nbclient over Unix sockets (ZMQ's ipc transport), which a network namespace does not cut.
Where no namespace can be made, a Python-level guard in the kernel makes every connect to a non-loopback
address raise instead. That is weaker (code below Python, such as vl-convert's Rust, is not stopped), so
the test prints which block ran, and a last cell checks that the block holds.

The check: each chart output is an SVG (Altair's offline renderer, `sora_lab.metrics.charts`) whose
mark groups hold painted items, read by helpers/vega_marks.py; the headline chart draws its DAU, WAU
and MAU lines; no output is an HTML chart that would fetch Vega from a CDN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from helpers.vega_marks import marks
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "05_growth_metrics.ipynb"
NAMESPACES = (["unshare", "--net", "--"], ["unshare", "--user", "--map-root-user", "--net", "--"])

# The fallback: patch socket connects before ipykernel starts (sys.argv keeps `-f <connection file>`).
GUARD = """
import ipaddress, socket

def _blocked(sock, address):
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        return not ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return address[0] != "localhost"

def _guard(original):
    def connect(sock, address):
        if _blocked(sock, address):
            raise OSError(101, f"network blocked by the test guard: connect to {address[0]}")
        return original(sock, address)
    return connect

socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""

# Appended to the notebook: what the kernel sees of the network.
PROBE = """
import json, os, socket
try:
    socket.create_connection(("8.8.8.8", 53), timeout=3).close()
    outcome = "connected"
except OSError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"netns": os.readlink("/proc/self/ns/net"), "interfaces": [n for _, n in socket.if_nameindex()],
                  "connect": outcome}))
"""


def network_namespace() -> list[str] | None:
    """The `unshare` prefix that gives a process a network namespace of its own here, or None."""
    for prefix in NAMESPACES:
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


class OfflineKernelManager(AsyncKernelManager):
    """A kernel on Unix sockets, started inside `prefix` (a network namespace) or behind the socket guard."""

    prefix: list[str] | None = None
    socket_dir: str = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = f"{self.socket_dir}/kernel"  # ipc socket files: a short path (Unix sockets allow ~100 bytes)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.prefix:
            return [*self.prefix, *cmd]
        return [sys.executable, "-c", GUARD, *cmd[cmd.index("-f"):]]


def chart_outputs(notebook) -> list[tuple[int, str]]:
    return [(i, out["data"]["image/svg+xml"]) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "image/svg+xml" in out.get("data", {})]


def test_05_draws_every_chart_with_the_network_blocked(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_LAB_HOME", str(tmp_path / "lab"))
    prefix = network_namespace()
    block = f"network namespace ({' '.join(prefix[:-1])})" if prefix else "Python socket guard (no namespace here)"
    print(f"network block: {block}")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    with tempfile.TemporaryDirectory(prefix="k") as sockets:
        manager = type("Manager", (OfflineKernelManager,), {"prefix": prefix, "socket_dir": sockets})
        NotebookClient(notebook, timeout=300, kernel_name="python3", kernel_manager_class=manager,
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    seen = json.loads(notebook.cells[-1].outputs[0]["text"])
    assert seen["connect"] != "connected", f"{block}: the kernel reached the network"
    if prefix:
        assert seen["netns"] != os.readlink("/proc/self/ns/net") and seen["interfaces"] == ["lo"], seen
        assert "unreachable" in seen["connect"].lower(), seen
    else:
        assert "blocked by the test guard" in seen["connect"], seen

    charts = chart_outputs(notebook)
    assert len(charts) >= 6, f"{len(charts)} charts drawn"  # the lesson's five and a solution's
    for index, svg in charts:
        drawn = marks(svg)
        assert drawn, f"cell {index}: an SVG with no drawn marks"
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            assert "vega" not in html and "cdn" not in html, "a chart fell back to the online HTML renderer"
    headline = next(svg for _, svg in charts if "Downloads (bars) vs active users" in svg)
    lines = {m.field("measure") for m in marks(headline) if m.kind == "line"}
    assert {"DAU", "WAU", "MAU"} <= lines, f"the headline chart draws lines for {sorted(lines, key=str)}"
    assert sum(m.kind == "rect" and m.field("measure") == "downloads" for m in marks(headline)) == 35

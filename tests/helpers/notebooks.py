"""Executing a teaching notebook the way a learner's kernel would, with the environment a test chooses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, env: dict[str, str], timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run `path` top to bottom in a fresh python3 kernel whose environment is this process's plus `env`
    (a value of None removes a variable); returns the executed notebook and its wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    try:
        _set_environment(env)
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        started = time.perf_counter()
        client.execute()  # the kernel inherits this process's environment
        return notebook, time.perf_counter() - started
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def text_outputs(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or showed as text, in order (streams, text/plain, text/html, SVG)."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data[k] for k in ("text/plain", "text/html", "image/svg+xml") if k in data]
    return "\n".join(parts)

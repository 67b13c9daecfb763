"""A lab home folder: where the DuckDB file, media, keys and local credentials live.

Layout:  lab.duckdb · media/videos/*.mp4 · media/posters/*.jpg · keys/ (C2PA) ·
credentials.json (bearer tokens this machine obtained, 0600) · server.json (while a server runs)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

DEFAULT_HOME = Path("data/lab")


def resolve_home(home: str | Path | None = None) -> Path:
    """Explicit argument, else $SORA_LAB_HOME, else ./data/lab."""
    chosen = home if home is not None else os.environ.get("SORA_LAB_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, text: bool = False) -> Iterator[IO]:
    """A file object whose content replaces `path` only when the block ends without error.

    Temp file beside the target (same filesystem, so the rename is atomic), permissions set
    before the first byte, fsync, rename: readers see the old file or the whole new one.
    Binary files open read-write, for writers that seek back over what they wrote (C2PA signing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w" if text else "w+b", **({"encoding": "utf-8"} if text else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    with atomic_writer(path, mode=mode) as f:
        f.write(data)


def write_json_atomic(path: Path, data: dict, mode: int = 0o644) -> None:
    """Write JSON to a temp file beside `path`, then rename over it."""
    with atomic_writer(path, mode=mode, text=True) as f:
        json.dump(data, f, indent=2)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def credentials_path(home: Path) -> Path:
    return home / "credentials.json"


def load_credentials(home: Path) -> dict[str, str]:
    """handle -> bearer token, for users who redeemed on this machine."""
    return read_json(credentials_path(home))


def save_credential(home: Path, handle: str, token: str) -> None:
    tokens = load_credentials(home)
    tokens[handle] = token
    write_json_atomic(credentials_path(home), tokens, mode=0o600)


def server_info_path(home: Path) -> Path:
    return home / "server.json"


def media_dir(home: Path) -> Path:
    return home / "media"

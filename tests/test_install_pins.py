"""constraints.txt pins what the suite passed with; these checks keep it usable by `make`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Requirement]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            spec = list(req.specifier)
            assert len(spec) == 1 and spec[0].operator == "==", f"constraints.txt: {line!r} is not name==version"
            pins[canonicalize_name(req.name)] = req
    return pins


def _declared() -> list[Requirement]:
    """What `pip install -e .[dev]` asks for; the project's own extra (`sora_lab[ray]`) counts as its contents."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras, own = project["optional-dependencies"], canonicalize_name(project["name"])
    declared, todo = [], [Requirement(r) for r in project["dependencies"] + extras["dev"]]
    while todo:
        req = todo.pop()
        if canonicalize_name(req.name) == own:
            todo.extend(Requirement(r) for extra in req.extras for r in extras[extra])
        else:
            declared.append(req)
    return declared


def test_torch_is_left_to_torch_spec():
    # A torch pin here would clash with a GPU user's TORCH_SPEC (e.g. a CUDA build).
    assert "torch" not in _pins()


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _declared():
        name = canonicalize_name(req.name)
        if name == "torch":
            continue
        assert name in pins, f"{req.name} is in pyproject.toml but not in constraints.txt: run `make lock`"
        version = str(next(iter(pins[name].specifier)).version)
        assert req.specifier.contains(version, prereleases=True), (
            f"constraints.txt pins {req.name}=={version}, outside pyproject.toml's {req.specifier}")

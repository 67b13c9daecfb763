"""Rights holders and the name registries the prompt policy matches against.

Two registries ship in `data/` (public figures, famous characters) and each lab
home may extend them with CSVs of the same columns under `<home>/registry/`.
Rights holders opt their IP in with a policy per use — `block`, `allow` or
`allow_with_attribution`; a famous character nobody registered stays blocked
(the opt-in model the anchor product moved to after launch).
"""

from __future__ import annotations

import csv
import io
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from sora_lab.core.errors import Conflict, InputError, NotFound
from sora_lab.core.home import atomic_writer
from sora_lab.core.ids import new_id, utcnow
from sora_lab.core.text import clean_text, handle_key
from sora_lab.store.db import Store

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
FIGURES_FILE = "public_figures.csv"
CHARACTERS_FILE = "famous_characters.csv"
FIGURE_COLUMNS = ["name", "aliases", "ambiguous_aliases", "category", "source"]
CHARACTER_COLUMNS = ["name", "aliases", "ambiguous_aliases", "category", "rights_holder", "status"]
USE_POLICIES = ("block", "allow", "allow_with_attribution")
# Bumped on every registration change, per store, so the policy rebuilds its matcher without
# asking the database on every check (one process owns a lab's DuckDB file).
_VERSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def rights_version(store: Store) -> int:
    return _VERSIONS.get(store, 0)


def _bump(store: Store) -> None:
    _VERSIONS[store] = _VERSIONS.get(store, 0) + 1


@dataclass(frozen=True)
class RegistryEntry:
    """One public figure, famous character or registered piece of IP."""

    kind: str  # 'public_figure' | 'character' | 'registered_ip'
    name: str
    aliases: tuple[str, ...]
    ambiguous: frozenset[str] = field(default_factory=frozenset)  # ordinary words: need name-like context
    holder: str | None = None
    status: str = "protected"  # characters: 'protected' | 'public_domain'; registered IP: its use policy
    attribution: str | None = None
    description: str | None = None
    policy_id: str | None = None
    known_for: tuple[str, ...] = ()  # public figures: signature works a prompt may describe them by


def registry_dir(home: Path) -> Path:
    """Where a lab home keeps its own additions to the registries."""
    return home / "registry"


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if (row.get("name") or "").strip()]


def load_registry(home: Path | None) -> list[RegistryEntry]:
    """Shipped registries plus the home's additions (public figures, then characters)."""
    entries: list[RegistryEntry] = []
    folders = [REPO_DATA] + ([registry_dir(home)] if home is not None else [])
    for folder in folders:
        entries += [_entry("public_figure", row) for row in _read_csv(folder / FIGURES_FILE)]
        entries += [
            _entry(
                "character",
                row,
                holder=(row.get("rights_holder") or "").strip() or None,
                status=(row.get("status") or "protected").strip() or "protected",
            )
            for row in _read_csv(folder / CHARACTERS_FILE)
        ]
    return entries


def _entry(kind: str, row: dict, **extra) -> RegistryEntry:
    """A registry CSV row: name, aliases and ambiguous_aliases (';'-separated) are common to both files."""
    return RegistryEntry(
        kind=kind,
        name=row["name"].strip(),
        aliases=tuple(_split(row.get("aliases"))),
        ambiguous=frozenset(a.casefold() for a in _split(row.get("ambiguous_aliases"))),
        known_for=tuple(_split(row.get("known_for"))),
        **extra,
    )


def registry_signature(home: Path | None) -> tuple:
    """Changes whenever a registry file changes, so cached indexes know to rebuild."""
    sig = []
    for folder in [REPO_DATA] + ([registry_dir(home)] if home is not None else []):
        for name in (FIGURES_FILE, CHARACTERS_FILE):
            path = folder / name
            try:
                st = path.stat()
                sig.append((str(path), st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                sig.append((str(path), 0, 0))
    return tuple(sig)


def _clean_names(name: str, aliases: list[str] | None, what: str) -> tuple[str, list[str]]:
    if name is None or (isinstance(name, str) and not name.strip()):
        raise InputError(f"{what} is required, e.g. 'Mickey Mouse'")
    name = clean_text(name, what, max_chars=200).strip()
    if aliases is None:
        aliases = []
    if not isinstance(aliases, list) or len(aliases) > 50:
        raise InputError("aliases must be a list of at most 50 names, e.g. ['Mickey']")
    aliases = [clean_text(a, f"aliases[{i}]", max_chars=200).strip() for i, a in enumerate(aliases)]
    if any(";" in a for a in [name, *aliases]):
        raise InputError("names and aliases may not contain ';' (it separates aliases in the registry)")
    return name, aliases


def _append_csv_atomic(path: Path, columns: list[str], row: dict) -> None:
    """Append one row by rewriting the file beside itself and renaming (no torn files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    if not existing:
        writer.writeheader()
    writer.writerow(row)
    with atomic_writer(path, text=True) as f:
        f.write(existing + buf.getvalue())


class RightsService:
    """Rights holders' opt-ins and the lab's registry extensions (operator only)."""

    def __init__(self, store: Store, home: Path):
        self.store = store
        self.home = home

    def register(
        self,
        *,
        holder: str,
        ip_name: str,
        policy: str,
        aliases: list[str] | None = None,
        description: str | None = None,
        attribution: str | None = None,
    ) -> dict:
        """Register a piece of IP for a rights holder with its use policy."""
        if holder is None or (isinstance(holder, str) and not holder):
            raise InputError("holder is required: the rights holder's name, e.g. 'Example Studios'")
        holder = clean_text(holder, "holder", max_chars=200).strip()
        ip_name, aliases = _clean_names(ip_name, aliases, "ip_name")
        if policy not in USE_POLICIES:
            raise InputError(f"policy {policy!r} is not one of {', '.join(USE_POLICIES)}")
        if attribution is not None:
            attribution = clean_text(attribution, "attribution", max_chars=300, required=False).strip() or None
        if policy == "allow_with_attribution" and not attribution:
            attribution = f"{ip_name} © {holder}"
        if description is not None:
            description = clean_text(description, "description", max_chars=500)
        now = utcnow()
        policy_id = new_id("ip")
        with self.store.write() as cur:
            row = cur.execute("SELECT holder_id FROM rights_holders WHERE name = ?", [holder]).fetchone()
            holder_id = row[0] if row else new_id("rh")
            if row is None:
                cur.execute("INSERT INTO rights_holders VALUES (?, ?, ?)", [holder_id, holder, now])
            taken = cur.execute(
                "SELECT 1 FROM rights_policies WHERE lower(ip_name) = lower(?)", [ip_name]
            ).fetchone()
            if taken:
                raise Conflict(f"{ip_name!r} is already registered; remove it first (rights remove) to change it")
            cur.execute(
                "INSERT INTO rights_policies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [policy_id, holder_id, ip_name, aliases, description, policy, attribution, now],
            )
        _bump(self.store)
        return {
            "policy_id": policy_id,
            "holder": holder,
            "ip_name": ip_name,
            "aliases": aliases,
            "policy": policy,
            "attribution": attribution,
            "description": description,
        }

    def list_ip(self) -> list[dict]:
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT p.policy_id, h.name, p.ip_name, p.aliases, p.policy, p.attribution, p.description "
                "FROM rights_policies p JOIN rights_holders h USING (holder_id) ORDER BY p.created_at"
            ).fetchall()
        keys = ("policy_id", "holder", "ip_name", "aliases", "policy", "attribution", "description")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def remove(self, *, policy_id: str) -> dict:
        with self.store.write() as cur:
            if not cur.execute("SELECT 1 FROM rights_policies WHERE policy_id = ?", [policy_id]).fetchone():
                raise NotFound(f"no registered IP {policy_id!r}; see `sora-lab rights list`")
            cur.execute("DELETE FROM rights_policies WHERE policy_id = ?", [policy_id])
        _bump(self.store)
        return {"removed": policy_id}

    def registered_entries(self) -> list[RegistryEntry]:
        """Registered IP as registry entries for the policy's matcher."""
        return [
            RegistryEntry(
                kind="registered_ip",
                name=ip["ip_name"],
                aliases=tuple(ip["aliases"] or ()),
                holder=ip["holder"],
                status=ip["policy"],
                attribution=ip["attribution"],
                description=ip["description"],
                policy_id=ip["policy_id"],
            )
            for ip in self.list_ip()
        ]

    def add_public_figure(
        self, *, figure: str, aliases: list[str] | None = None, category: str = "public_figure", source: str = ""
    ) -> dict:
        """Extend this lab's public-figure registry (written to <home>/registry/public_figures.csv)."""
        name, aliases = _clean_names(figure, aliases, "figure")
        row = {"name": name, "aliases": ";".join(aliases), "ambiguous_aliases": "", "category": category,
               "source": source}
        _append_csv_atomic(registry_dir(self.home) / FIGURES_FILE, FIGURE_COLUMNS, row)
        return row

    def add_character(
        self,
        *,
        character: str,
        aliases: list[str] | None = None,
        rights_holder: str = "",
        category: str = "character",
        status: str = "protected",
    ) -> dict:
        """Extend this lab's famous-character registry (blocked unless a rights holder opts in)."""
        name, aliases = _clean_names(character, aliases, "character")
        if status not in ("protected", "public_domain"):
            raise InputError("status must be 'protected' or 'public_domain'")
        rights_holder = clean_text(rights_holder, "rights_holder", max_chars=200, required=False).strip()
        row = {"name": name, "aliases": ";".join(aliases), "ambiguous_aliases": "", "category": category,
               "rights_holder": rights_holder, "status": status}
        _append_csv_atomic(registry_dir(self.home) / CHARACTERS_FILE, CHARACTER_COLUMNS, row)
        return row

    def link_public_figure(self, *, figure: str, cameo: str) -> dict:
        """Record that a cameo is this public figure's own, so prompts using it may name them."""
        names = {e.name.casefold(): e.name for e in load_registry(self.home) if e.kind == "public_figure"}
        canonical = names.get((figure or "").strip().casefold())
        if canonical is None:
            raise NotFound(f"{figure!r} is not in the public-figure registry; add it with `rights add-figure`")
        handle = handle_key(cameo)
        with self.store.write() as cur:
            row = cur.execute(
                "SELECT cameo_id FROM cameos WHERE handle = ? AND deleted_at IS NULL", [handle]
            ).fetchone()
            if row is None:
                raise NotFound(f"no cameo @{handle}; the person must register their cameo first")
            cur.execute("DELETE FROM public_figure_cameos WHERE figure = ?", [canonical])
            cur.execute("INSERT INTO public_figure_cameos VALUES (?, ?, ?)", [canonical, row[0], utcnow()])
        return {"figure": canonical, "cameo": handle, "cameo_id": row[0]}

    def registry(self, *, kind: str | None = None) -> list[dict]:
        """The merged registries (shipped + this lab's additions)."""
        if kind not in (None, "public_figure", "character"):
            raise InputError("kind must be 'public_figure' or 'character'")
        return [
            {"kind": e.kind, "name": e.name, "aliases": list(e.aliases), "holder": e.holder, "status": e.status}
            for e in load_registry(self.home)
            if kind is None or e.kind == kind
        ]

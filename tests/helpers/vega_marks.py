"""What a Vega chart actually drew, read from its SVG (vl-convert's, or `view.toSVG()` in the browser).

A spec can name a series that is never drawn: in a layered chart one layer's explicit colour domain
is shared by every layer, and a line whose value falls outside it gets a `<path>` with no stroke.
So the chart tests read the rendered marks, not the spec: each mark item with its paint and label,
and each legend entry with the colour or shape its symbol was drawn in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

_NS = "{http://www.w3.org/2000/svg}"
_INVISIBLE = {None, "", "none", "transparent"}


@dataclass(frozen=True)
class Item:
    """One drawn mark item: a bar, a line, a point or a text label."""

    layer: str  # the mark group's name, e.g. layer_1_marks
    kind: str  # Vega mark type: rect, line, symbol, text, area, ...
    stroke: str | None
    fill: str | None
    label: str  # aria-label: the item's encoded fields, e.g. "day: Oct 1, 2025; measure: DAU"
    path: str  # SVG path data ("" for text)

    @property
    def painted(self) -> str | None:
        """The colour it shows: the stroke of a line, the fill of anything else (None if invisible)."""
        colour = self.stroke if self.kind == "line" else (self.fill or self.stroke)
        return None if colour in _INVISIBLE else colour

    def field(self, name: str) -> str | None:
        match = re.search(rf"(?:^|; ){re.escape(name)}: ([^;]*)", self.label)
        return match.group(1) if match else None


def _paint(element: ET.Element, attribute: str) -> str | None:
    """A paint attribute, dropped when the element's matching opacity makes it invisible."""
    value = element.get(attribute)
    for opacity in (f"{attribute}-opacity", "opacity"):
        if element.get(opacity) is not None and float(element.get(opacity)) == 0:
            return None
    return value


def _points(path: str) -> int:
    return len(re.findall(r"[-\d.]+,[-\d.]+", path)) + len(re.findall(r"[hvHV]", path))


def marks(svg: str) -> list[Item]:
    """Every item inside a `role-mark` group that is painted and has some extent."""
    root = ET.fromstring(svg)
    out = []
    for group in root.iter(f"{_NS}g"):
        classes = (group.get("class") or "").split()
        if "role-mark" not in classes:
            continue
        kind = next((c[5:] for c in classes if c.startswith("mark-")), "")
        layer = next((c for c in classes if c.endswith("_marks")), "")
        for element in group:
            if element.tag not in (f"{_NS}path", f"{_NS}text"):
                continue
            item = Item(layer, kind, _paint(element, "stroke"), _paint(element, "fill"),
                        element.get("aria-label") or "", element.get("d") or "")
            if item.painted is None:
                continue
            if kind in ("line", "area") and _points(item.path) < 2:
                continue
            if kind not in ("text",) and not item.path:
                continue
            out.append(item)
    return out


def legend(svg: str) -> dict[str, dict]:
    """Legend label -> how its symbol was drawn ({"fill", "stroke", "path"})."""
    root = ET.fromstring(svg)
    entries = {}
    for group in root.iter(f"{_NS}g"):
        if "role-legend-entry" not in (group.get("class") or "").split():
            continue
        symbols = [e for g in group.iter(f"{_NS}g") if "role-legend-symbol" in (g.get("class") or "")
                   for e in g if e.tag == f"{_NS}path"]
        labels = [e for g in group.iter(f"{_NS}g") if "role-legend-label" in (g.get("class") or "")
                  for e in g if e.tag == f"{_NS}text"]
        for symbol, label in zip(symbols, labels, strict=False):
            entries["".join(label.itertext())] = {"fill": _paint(symbol, "fill"), "stroke": _paint(symbol, "stroke"),
                                                  "path": symbol.get("d") or ""}
    return entries


def legend_colour(entry: dict) -> str | None:
    """A legend symbol's colour: its stroke for line symbols, else its fill."""
    for colour in (entry["stroke"], entry["fill"]):
        if colour not in _INVISIBLE:
            return colour
    return None


def growth_problems(svg: str, *, days: int, kinds: tuple[str, ...] = ("public figure",)) -> list[str]:
    """What the downloads-vs-users chart failed to draw: one bar per day, DAU, WAU and MAU as three
    lines in distinct colours that match their legend entries, and the reference points of each kind."""
    drawn, keys = marks(svg), legend(svg)
    problems = []
    bars = [m for m in drawn if m.kind == "rect"]
    if len(bars) != days:
        problems.append(f"{len(bars)} download bars drawn for {days} days")
    lines = {m.field("measure"): m.painted for m in drawn if m.kind == "line"}
    for measure in ("DAU", "WAU", "MAU"):
        if measure not in lines:
            problems.append(f"no {measure} line drawn (lines drawn: {sorted(lines, key=str)})")
        elif measure not in keys:
            problems.append(f"no legend entry for {measure}")
        elif legend_colour(keys[measure]) != lines[measure]:
            problems.append(f"{measure} line is {lines[measure]} but its legend says {legend_colour(keys[measure])}")
    if len(set(lines.values())) != len(lines):
        problems.append(f"lines share a colour: {lines}")
    if "downloads" not in keys:
        problems.append("no legend entry for the download bars")
    points = [m for m in drawn if m.kind == "symbol"]
    for kind in kinds:
        if not any(m.field("kind") == kind for m in points):
            problems.append(f"no {kind} point drawn")
        if kind not in keys:
            problems.append(f"no legend entry for {kind}")
    return problems

"""C2PA soft bindings: the manifest declares the clip's watermark key and fingerprint.

A soft binding (`c2pa.soft-binding`, C2PA 2.x section "Soft Binding") names an algorithm and gives its
value for the asset, so any C2PA reader learns how the content itself identifies the clip once the
manifest is stripped. One assertion per signal: the invisible watermark (the 40-bit key, 5 bytes)
and the PDQ fingerprint (one block per hashed second, scoped by its timespan in milliseconds). Both
algorithm names are this lab's own; they are not in the C2PA soft-binding algorithm list.
"""

from __future__ import annotations

import base64

from sora_lab.provenance.fingerprint import WINDOW_S, Fingerprint
from sora_lab.provenance.invisible import KEY_BITS

LABEL = "c2pa.soft-binding"
WATERMARK_ALG = "org.soralab.watermark.tile.1"
FINGERPRINT_ALG = "org.soralab.pdq.1fps.1"


def assertions(mark_key: int, fingerprint: Fingerprint) -> list[dict]:
    """The soft-binding assertions for a manifest definition (c2pa-python Builder format)."""
    key_bytes = mark_key.to_bytes(KEY_BITS // 8, "big")
    watermark = {
        "alg": WATERMARK_ALG,
        "name": "invisible tiled watermark carrying the clip's 40-bit lab key",
        "blocks": [{"scope": {}, "value": base64.b64encode(key_bytes).decode()}],
        "pad": [0],
    }
    span = round(WINDOW_S * 1000)
    hashes = {
        "alg": FINGERPRINT_ALG,
        "name": "PDQ hash (256 bits) of the mean of each second's frames",
        "blocks": [
            {
                "scope": {"timespan": {"start": int(at), "end": int(at) + span}},
                "value": base64.b64encode(bytes.fromhex(hex_hash)).decode(),
            }
            for at, hex_hash in zip(fingerprint.at_ms, fingerprint.hex(), strict=True)
        ],
        "pad": [0],
    }
    return [{"label": LABEL, "data": watermark}, {"label": LABEL, "data": hashes}]


def read(manifest_assertions: list[dict]) -> dict:
    """What a manifest's soft bindings say: {'watermark_key': int | None, 'fingerprint': [hex, ...]}."""
    found: dict = {"watermark_key": None, "fingerprint": []}
    for assertion in manifest_assertions:
        if assertion.get("label") != LABEL:
            continue
        data = assertion.get("data") or {}
        values = []
        for block in data.get("blocks") or []:
            try:
                values.append(base64.b64decode(str(block.get("value", "")), validate=True))
            except ValueError:
                continue
        if data.get("alg") == WATERMARK_ALG and values and len(values[0]) == KEY_BITS // 8:
            found["watermark_key"] = int.from_bytes(values[0], "big")
        elif data.get("alg") == FINGERPRINT_ALG:
            found["fingerprint"] = [v.hex() for v in values if len(v) == 32]
    return found

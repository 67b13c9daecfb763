"""The parts `trace` is built from, without a model or a codec: the invisible watermark's payload and
reading (crop, scale, mirror, another lab's secret), the multi-index hash search against a brute-force
scan, fingerprint windows, and the soft-binding assertions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers.disc_world import bouncing_disc

from sora_lab.core.errors import InputError
from sora_lab.provenance import fingerprint, invisible, soft_binding
from sora_lab.provenance.index import HashIndex

SECRET = invisible.secret_from_key_file(b"-----BEGIN PRIVATE KEY----- test")


@pytest.fixture(scope="module")
def marked():
    """Twenty 360x640 frames of a moving disc carrying key 0x5A5A0F0F33."""
    world = bouncing_disc(20, width=90, height=160, radius=12)
    frames = [cv2.resize(f, (360, 640), interpolation=cv2.INTER_LINEAR) for f in world.frames]
    mark = invisible.InvisibleMark(SECRET, 0x5A5A0F0F33, (360, 640))
    return [mark.apply(f.copy()) for f in frames], frames


def test_payload_is_the_key_then_its_crc_and_bad_keys_are_refused():
    bits = invisible.payload_bits(0x5A5A0F0F33)
    assert len(bits) == invisible.PAYLOAD_BITS and int("".join(map(str, bits[:40])), 2) == 0x5A5A0F0F33
    flipped = bits[:40].copy()
    flipped[7] ^= 1
    assert not np.array_equal(invisible.crc8(flipped), bits[40:])  # a single wrong bit changes the CRC
    for bad in (-1, 1 << 40, 2.5, "12"):
        with pytest.raises(InputError, match="mark_key"):
            invisible.payload_bits(bad)


def test_the_mark_is_faint(marked):
    frames, clean = marked
    error = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(frames, clean, strict=True)])
    assert 10 * np.log10(255**2 / error) > 42  # PSNR in dB
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(frames, clean, strict=True)) <= 2


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f,
        lambda f: f[64:-64, 36:-36],  # centre crop to 80 %
        lambda f: cv2.resize(f, (180, 320), interpolation=cv2.INTER_AREA),  # half size
        lambda f: cv2.copyMakeBorder(cv2.resize(f, (300, 533)), 40, 40, 20, 20, cv2.BORDER_CONSTANT),  # screen
        lambda f: np.ascontiguousarray(f[:, ::-1]),  # mirrored
    ],
    ids=["as-made", "crop-80", "half-size", "bordered", "mirrored"],
)
def test_the_key_is_read_back_after_geometric_edits(marked, edit):
    frames, _ = marked
    reading = invisible.MarkReader(SECRET).read([edit(f) for f in frames])
    assert reading is not None and reading.keys[:1] == [0x5A5A0F0F33]
    assert reading.bit_agreement >= invisible.MIN_AGREEMENT


def test_no_key_from_unmarked_frames_or_another_labs_secret(marked):
    frames, clean = marked
    assert invisible.MarkReader(SECRET).read(clean).keys == []
    assert invisible.MarkReader(b"another lab").read(frames).keys == []
    assert invisible.MarkReader(SECRET).read([f[:40, :40] for f in frames]) is None  # too small to hold a tile


def test_multi_index_search_finds_what_a_scan_finds():
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 2**63, (5000, 4), dtype=np.int64).astype(np.uint64) * np.uint64(2)
    owners = rng.permutation(np.arange(5000) // 10)  # built in any order, kept sorted by owner
    index = HashIndex(stored[:4000], owners[:4000])
    index.add(stored[4000:], owners[4000:])  # the tail, compared one by one
    queries = stored[rng.integers(0, 5000, 200)].copy()
    for q in queries:  # flip up to 7 bits: always found (pigeonhole over 8 chunks)
        for bit in rng.choice(256, rng.integers(0, 8), replace=False):
            q[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    query, rows, distance = index.near(queries, 31)
    everything = np.concatenate([index.hashes, stored[4000:]])
    brute = fingerprint.hamming(queries, everything)
    for qi in range(len(queries)):
        found = set(rows[query == qi].tolist())
        assert set(np.flatnonzero(brute[qi] <= 7)) <= found <= set(np.flatnonzero(brute[qi] <= 31))
    assert np.array_equal(distance, brute[query, rows])
    assert np.array_equal(np.concatenate([index.hashes, stored[4000:]])[rows], everything[rows])
    owner = int(owners[4500])  # one clip's whole fingerprint, from the built part and the tail
    expected = {tuple(h) for h, o in zip(stored, owners, strict=True) if o == owner}
    assert {tuple(h) for h in index.hashes_of(owner)} == expected
    assert set(index.owners_of(rows).tolist()) <= set(owners.tolist())


def test_fingerprint_windows_are_whole_seconds_of_mean_frames():
    world = bouncing_disc(60, width=90, height=160, radius=12)
    builder = fingerprint.FingerprintBuilder(60, 24)
    for index, frame in enumerate(world.frames):
        builder.add(index, frame)
    result = builder.result(min_quality=0)
    assert result.at_ms.tolist() == [0, 1000]  # 2.5 s: two whole windows
    mean = np.mean([fingerprint.small(f) for f in world.frames[24:48]], axis=0)
    assert np.array_equal(result.hashes[1], fingerprint.image_hash(mean)[0])


def test_soft_bindings_round_trip():
    hashes = np.arange(8, dtype=np.uint64).reshape(2, 4)
    prints = fingerprint.Fingerprint(np.array([0, 1000]), hashes, np.array([50, 60]))
    assertions = soft_binding.assertions(0x0102030405, prints)
    assert [a["label"] for a in assertions] == ["c2pa.soft-binding", "c2pa.soft-binding"]
    assert assertions[1]["data"]["blocks"][1]["scope"] == {"timespan": {"start": 1000, "end": 2000}}
    read = soft_binding.read(assertions)
    assert read == {"watermark_key": 0x0102030405, "fingerprint": prints.hex()}
    assert soft_binding.read([{"label": "c2pa.soft-binding", "data": {"alg": "x", "blocks": [{"value": "!"}]}}]) == {
        "watermark_key": None, "fingerprint": []}

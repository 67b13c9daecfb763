"""The invisible watermark: a 40-bit key hidden in every frame's brightness, read back after the copy was
re-encoded, scaled, cropped, bordered, trimmed, re-timed or mirrored.

Why a tile and not invisible-watermark: its DWT-DCT(-SVD) and RivaGAN read bits from fixed block
positions of the whole frame, so a crop or a border loses them, and on this world's flat colours
RivaGAN reads 0.63 of the bits after one H.264 pass (docs/provenance.md). Here a pattern of
16-pixel cells, `TILE_W` x `TILE_H`, repeats over the frame, identical in every frame (x264 keeps a
static pattern cheaply: P-frames copy it). Any piece of the frame at least one tile wide holds the
whole message, so a crop only shifts where the tile starts. The reader averages the high-passed
frames (moving content averages out, the pattern does not), searches the scale, folds the average
onto one tile and finds the tile's phase by correlating with pilot cells. Each of the 48 payload
bits (40 key + CRC-8) sits in two cells; soft decisions and a CRC-checked flip of the weakest bits
(Chase decoding) correct what a hard re-encode breaks.

The cell layout, the pilots and the chip signs come from a lab secret (derived from the lab's C2PA
key), so another lab home's marks do not read here and nobody without the key can write ours.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import dataclass

import cv2
import numpy as np

from sora_lab.core.errors import InputError

TILE_W, TILE_H, CELL = 160, 192, 16
"""Tile and cell size in delivery pixels (at 360x640 about 2 x 3 tiles per frame)."""
N_PILOT = 24
"""Cells with a fixed, known sign: how the reader finds where a tile starts."""
KEY_BITS, CRC_BITS = 40, 8
PAYLOAD_BITS = KEY_BITS + CRC_BITS
AMPLITUDE = 2.0
"""Peak change in grey levels (of 255), about 44 dB PSNR. The flat colours of the tiny world leave no
texture to hide in; at 1.5 a bordered, rescaled CRF 28 copy already lost bits (docs/provenance.md)."""
CHASE_BITS = 4
"""Weakest bits whose flips are tried against the CRC (16 candidates)."""
MIN_AGREEMENT = 0.85
"""Share of payload cells that must agree with the decoded bits before any key is reported: a frame
without our mark agrees about 0.75 by chance, a marked copy after a CRF 35 re-encode 0.98 or more."""
MIN_SCALE = 0.25
"""Smallest copy the reader looks for: a quarter of the delivery size."""
_BLUR_SIGMA = 6.0
_COARSE_STEP = 1.01
_SECRET_LABEL = b"sora-lab invisible watermark v1\0"


@dataclass(frozen=True)
class MarkLayout:
    """Where the pilots and the payload bits sit in a tile, and each cell's sign: a lab's secret."""

    pilot_cells: np.ndarray
    data_cells: np.ndarray
    bit_of_cell: np.ndarray
    """For each data cell, which payload bit it carries."""
    signs: np.ndarray
    """+1 or -1 per cell (spreads the bits so a flat frame shows no regular grid)."""

    @classmethod
    def from_secret(cls, secret: bytes) -> MarkLayout:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(_SECRET_LABEL + secret).digest()[:16], "big"))
        n_cells = (TILE_W // CELL) * (TILE_H // CELL)
        order = rng.permutation(n_cells)
        data = order[N_PILOT:]
        return cls(
            pilot_cells=order[:N_PILOT],
            data_cells=data,
            bit_of_cell=np.arange(len(data)) % PAYLOAD_BITS,
            signs=rng.choice(np.array([-1.0, 1.0]), n_cells),
        )

    def tile(self, bits: np.ndarray) -> np.ndarray:
        """The pattern (TILE_H, TILE_W) float32 in [-1, 1] for payload `bits` (0/1), cell edges softened."""
        chips = np.zeros(self.signs.shape)
        chips[self.pilot_cells] = self.signs[self.pilot_cells]
        chips[self.data_cells] = self.signs[self.data_cells] * (2.0 * bits[self.bit_of_cell] - 1.0)
        return _cells_to_pixels(chips, soften=True)

    def pilot_tile(self) -> np.ndarray:
        chips = np.zeros(self.signs.shape)
        chips[self.pilot_cells] = self.signs[self.pilot_cells]
        return _cells_to_pixels(chips, soften=False)


def _cells_to_pixels(chips: np.ndarray, *, soften: bool) -> np.ndarray:
    pixels = np.kron(chips.reshape(TILE_H // CELL, TILE_W // CELL), np.ones((CELL, CELL))).astype(np.float32)
    if soften:  # rounded cells: less visible, and fewer high frequencies for an encoder to drop
        wrapped = cv2.GaussianBlur(np.tile(pixels, (3, 3)), (0, 0), CELL / 4)  # blurred as the tiles repeat
        pixels = wrapped[TILE_H : 2 * TILE_H, TILE_W : 2 * TILE_W] / np.abs(wrapped).max()
    return pixels


def crc8(bits: np.ndarray) -> np.ndarray:
    """CRC-8 (polynomial 0x07) of a bit array, as 8 bits: tells a right key from a misread one."""
    register = 0
    for bit in bits.astype(np.uint8):
        feedback = ((register >> 7) & 1) ^ int(bit)
        register = ((register << 1) & 0xFF) ^ (0x07 if feedback else 0)
    return np.array([(register >> (7 - i)) & 1 for i in range(8)], np.uint8)


def payload_bits(key: int) -> np.ndarray:
    """The 48 bits a frame carries: the key, most significant bit first, then its CRC-8."""
    if not isinstance(key, int) or not 0 <= key < 1 << KEY_BITS:
        raise InputError(f"mark_key: {key!r} must be an integer in [0, 2**{KEY_BITS})")
    bits = np.array([(key >> (KEY_BITS - 1 - i)) & 1 for i in range(KEY_BITS)], np.uint8)
    return np.concatenate([bits, crc8(bits)])


def random_key() -> int:
    """A fresh random key (the runner instead draws one no stored clip has: registry.new_mark_key)."""
    return secrets.randbits(KEY_BITS)


def secret_from_key_file(key_pem: bytes) -> bytes:
    """The watermark secret of a lab: a hash of its C2PA signing key (no second secret to keep)."""
    return hashlib.sha256(_SECRET_LABEL + key_pem).digest()


class InvisibleMark:
    """The mark for one clip: `apply` adds the key's pattern to each frame before it is encoded."""

    def __init__(self, secret: bytes, key: int, size_wh: tuple[int, int], amplitude: float = AMPLITUDE):
        width, height = size_wh
        tile = MarkLayout.from_secret(secret).tile(payload_bits(key)) * amplitude
        reps = (-(-height // TILE_H), -(-width // TILE_W))
        self.key = key
        delta = np.repeat(np.rint(np.tile(tile, reps)[:height, :width])[..., None], 3, axis=2)
        self.brighter = np.clip(delta, 0, None).astype(np.uint8)  # added, then subtracted, with saturation
        self.darker = np.clip(-delta, 0, None).astype(np.uint8)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Add the pattern to `frame` (H, W, 3) uint8 in place (clipped to 0-255); returns it."""
        if frame.shape != self.brighter.shape:
            raise InputError(f"frame: {frame.shape[1]}x{frame.shape[0]} is not the clip's size")
        cv2.add(frame, self.brighter, dst=frame)
        cv2.subtract(frame, self.darker, dst=frame)
        return frame


@dataclass(frozen=True)
class MarkReading:
    """What the reader found: candidate keys (CRC-valid, most likely first) and how sure it is.

    bit_agreement: the share of payload cells whose sign agrees with the first key (1.0 = clean).
    sync: how far the pilot correlation peak stands above the others (standard deviations).
    """

    keys: list[int]
    bits: np.ndarray
    bit_agreement: float
    sync: float
    scale: float
    mirrored: bool


class ResidualAverage:
    """The average over frames of each frame's fine detail, with strong edges left out.

    Content edges move from frame to frame and average away; the mark sits still and adds up.
    Frames of another size than the first (a stream that changes resolution) are skipped.
    """

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, frame: np.ndarray) -> None:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        if self.total is not None and grey.shape != self.total.shape:
            return
        detail = grey - cv2.GaussianBlur(grey, (0, 0), _BLUR_SIGMA)
        edges = cv2.dilate((np.abs(detail) > 2 * AMPLITUDE).astype(np.uint8), np.ones((9, 9), np.uint8))
        detail[edges > 0] = 0.0
        self.total = detail if self.total is None else self.total + detail
        self.count += 1

    def value(self) -> np.ndarray | None:
        return None if self.total is None else self.total / self.count


def _fold(residual: np.ndarray, scale: float, tile_wh: tuple[int, int] = (TILE_W, TILE_H)) -> np.ndarray:
    """Resample by 1/scale so one tile is `tile_wh` again, then average every tile-sized piece onto one tile."""
    tile_w, tile_h = tile_wh
    height, width = residual.shape
    new_w, new_h = max(1, round(width / scale)), max(1, round(height / scale))
    resized = cv2.resize(residual, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    rows, cols = -(-new_h // tile_h), -(-new_w // tile_w)
    padded = np.zeros((rows * tile_h, cols * tile_w), np.float32)
    count = np.zeros_like(padded)
    padded[:new_h, :new_w] = resized
    count[:new_h, :new_w] = 1.0
    total = padded.reshape(rows, tile_h, cols, tile_w).sum(axis=(0, 2))
    return total / np.maximum(count.reshape(rows, tile_h, cols, tile_w).sum(axis=(0, 2)), 1.0)


class MarkReader:
    """Reads keys from frames made with the same secret."""

    def __init__(self, secret: bytes):
        self.layout = MarkLayout.from_secret(secret)
        pilots = self.layout.pilot_tile()
        self._pilot_fft = np.conj(np.fft.rfft2(pilots))
        half = cv2.resize(pilots, (TILE_W // 2, TILE_H // 2), interpolation=cv2.INTER_AREA)
        self._half_pilot_fft = np.conj(np.fft.rfft2(half))

    def _sync(self, tile: np.ndarray, *, half: bool = False) -> tuple[float, int, int]:
        """(peak z-score, dy, dx): where the pilots line up best in the folded tile."""
        pilot_fft = self._half_pilot_fft if half else self._pilot_fft
        corr = np.fft.irfft2(np.fft.rfft2(tile) * pilot_fft, s=tile.shape)
        peak = int(np.argmax(corr))
        dy, dx = divmod(peak, tile.shape[1])
        return float((corr.flat[peak] - corr.mean()) / (corr.std() + 1e-9)), dy, dx

    def _scales(self, shape: tuple[int, int]) -> np.ndarray:
        """Candidate scales (copy pixels per delivery pixel): from MIN_SCALE to where 1.2 tiles still fit."""
        height, width = shape
        largest = min(width / (1.2 * TILE_W), height / (1.2 * TILE_H))
        if largest < MIN_SCALE:
            return np.array([])
        return MIN_SCALE * _COARSE_STEP ** np.arange(int(np.log(largest / MIN_SCALE) / np.log(_COARSE_STEP)) + 1)

    def read(self, frames: list[np.ndarray], *, try_mirrored: bool = True) -> MarkReading | None:
        """The best reading over scales, phases and (if the upright one finds no key) a mirrored copy.

        None when there are no frames or they are too small to hold 1.2 tiles at MIN_SCALE.
        """
        average = ResidualAverage()
        for frame in frames:
            average.add(frame)
        return self.read_residual(average.value(), try_mirrored=try_mirrored)

    def read_residual(self, residual: np.ndarray | None, *, try_mirrored: bool = True) -> MarkReading | None:
        """`read` on an average already taken (ResidualAverage.value())."""
        if residual is None:
            return None
        reading = self._read_residual(residual, mirrored=False)
        if try_mirrored and (reading is None or not reading.keys):
            mirrored = self._read_residual(np.ascontiguousarray(residual[:, ::-1]), mirrored=True)
            if mirrored is not None and (reading is None or mirrored.keys or mirrored.sync > reading.sync):
                reading = mirrored
        return reading

    def _read_residual(self, residual: np.ndarray, *, mirrored: bool) -> MarkReading | None:
        scales = self._scales(residual.shape)
        if not len(scales):
            return None
        height, width = residual.shape  # the coarse search runs at half resolution: 4x fewer pixels
        small = cv2.resize(residual, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        half_tile = (TILE_W // 2, TILE_H // 2)
        coarse = sorted(((self._sync(_fold(small, s, half_tile), half=True)[0], s) for s in scales), reverse=True)[:3]
        best = None
        for _, around in coarse:  # refine each of the best three to 0.25 %
            for scale in around * np.linspace(0.985, 1.015, 13):
                tile = _fold(residual, scale)
                sync, dy, dx = self._sync(tile)
                if best is None or sync > best[0]:
                    best = (sync, scale, tile, dy, dx)
        sync, scale, tile, dy, dx = best
        return self._decode(np.roll(tile, (-dy, -dx), axis=(0, 1)), sync, scale, mirrored)

    def _decode(self, tile: np.ndarray, sync: float, scale: float, mirrored: bool) -> MarkReading:
        """Soft bits from the aligned tile, then the CRC-valid keys among flips of the weakest bits."""
        inner = CELL // 4  # the middle of each cell: its edges blur into the neighbours
        cells = tile.reshape(TILE_H // CELL, CELL, TILE_W // CELL, CELL)[:, inner:-inner, :, inner:-inner]
        chips = cells.mean(axis=(1, 3)).reshape(-1)
        layout = self.layout
        votes = chips[layout.data_cells] * layout.signs[layout.data_cells]
        soft = np.zeros(PAYLOAD_BITS)
        np.add.at(soft, layout.bit_of_cell, votes)
        bits = (soft > 0).astype(np.uint8)
        agreement = float(np.mean((votes > 0) == bits[layout.bit_of_cell]))
        keys: list[int] = []
        if agreement < MIN_AGREEMENT:
            return MarkReading(keys, bits, agreement, sync, float(scale), mirrored)
        weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
        for flips in sorted(itertools.product((0, 1), repeat=CHASE_BITS), key=sum):
            trial = bits.copy()
            trial[weakest] ^= np.array(flips, np.uint8)
            if np.array_equal(crc8(trial[:KEY_BITS]), trial[KEY_BITS:]):
                keys.append(int("".join(map(str, trial[:KEY_BITS])), 2))
        return MarkReading(keys, bits, agreement, sync, float(scale), mirrored)

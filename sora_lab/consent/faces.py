"""Face finding and reference crops for cameo registration.

Faces are found with dlib's HOG frontal-face detector (built into the dlib wheel, nothing to
download). Measured on the lab's test photos it finds every frontal face the LBP cascade found and
more (Biden's portrait, which the cascade missed), at a third of the time, and nothing in
scikit-image's non-face sample images or drawn characters. Images are RGB uint8 arrays
throughout; boxes are (top, left, height, width) in pixels of the image given.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from sora_lab.core.errors import InputError

REFERENCE_SIZE = 256  # cropped reference images are REFERENCE_SIZE x REFERENCE_SIZE RGB
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_SIDE = 8000
DETECT_SIDE = 480  # images are scaled so their longer side is this before detection (speed, and small faces)
CLEAR_FACE_SCORE = 0.5
"""Detector score of a face nobody would dispute; weaker detections (0..0.5) still count as 'a face'
for refusing a character, but a second weak one does not make a photo a group photo."""
MAX_VIDEO_FRAMES = 900  # 30 s at 30 fps
_lock = threading.Lock()


@dataclass(frozen=True)
class Face:
    """One detected face: its box in the image's own pixels and the detector's confidence."""

    top: int
    left: int
    height: int
    width: int
    score: float

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.top, self.left, self.height, self.width


@lru_cache(maxsize=1)
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


def decode_image(data: bytes, *, field: str = "image") -> np.ndarray:
    """Uploaded bytes (PNG/JPEG/WebP/...) -> RGB uint8, or InputError naming the field."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise InputError(f"{field} must be the bytes of a PNG or JPEG photo")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{field} is {len(data)} bytes; at most {MAX_UPLOAD_BYTES} (16 MiB)")
    bgr = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{field} is not an image OpenCV can read; upload a PNG or JPEG")
    h, w = bgr.shape[:2]
    if min(h, w) < 64 or max(h, w) > MAX_SIDE:
        raise InputError(f"{field} is {w}x{h}; use an image between 64 and {MAX_SIDE} pixels a side")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """Frontal faces in an RGB image, most confident first, in the image's own pixel coordinates."""
    h, w = rgb.shape[:2]
    scale = DETECT_SIDE / max(h, w)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.ascontiguousarray(cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=interpolation))
    with _lock:  # one detector object is shared; keep detection single-threaded
        rects, scores, _ = _detector().run(small, 1, 0.0)  # upsample once: faces down to ~20 px of DETECT_SIDE
    faces = [
        Face(round(r.top() / scale), round(r.left() / scale), round(r.height() / scale), round(r.width() / scale),
             round(float(s), 3))
        for r, s in zip(rects, scores, strict=True)
    ]
    return sorted(faces, key=lambda f: -f.score)


def crop_reference(rgb: np.ndarray, face: Face | None) -> np.ndarray:
    """A square crop around the face (with margin for hair and chin), or the centre for characters."""
    h, w = rgb.shape[:2]
    if face is None:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
    else:
        r, c, bh, bw = face.box
        side = min(int(max(bh, bw) * 1.6), h, w)
        cy, cx = r + bh / 2, c + bw / 2
        top = int(min(max(cy - side / 2, 0), h - side))
        left = int(min(max(cx - side / 2, 0), w - side))
    crop = rgb[top : top + side, left : left + side]
    return cv2.resize(crop, (REFERENCE_SIZE, REFERENCE_SIZE), interpolation=cv2.INTER_AREA)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the reference image as PNG")
    return buf.tobytes()


def read_png(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("stored reference image is unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_video(data: bytes, *, samples: int = 15) -> tuple[list[np.ndarray], dict]:
    """Up to `samples` evenly spaced RGB frames of an uploaded clip, and its container metadata.

    Decoded from memory (PyAV): the raw upload never touches the disk.
    """
    import av

    if not isinstance(data, bytes | bytearray) or not data:
        raise InputError("video must be the bytes of a short clip (MP4/WebM/MOV)")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"video is {len(data)} bytes; at most {MAX_UPLOAD_BYTES} (16 MiB); record 3-10 s")
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(bytes(data)), mode="r") as container:
            metadata = dict(container.metadata)
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= MAX_VIDEO_FRAMES:
                    break
    except (av.error.FFmpegError, StopIteration, IndexError, ValueError) as exc:
        raise InputError(f"video could not be decoded ({exc.__class__.__name__}); upload an MP4, WebM or MOV") from exc
    if len(frames) < 5:
        raise InputError(f"video has {len(frames)} frames; record at least a second of yourself saying the phrase")
    idx = np.linspace(0, len(frames) - 1, num=min(samples, len(frames))).round().astype(int)
    return [frames[i] for i in sorted(set(idx.tolist()))], metadata


def frames_vary(crops: list[np.ndarray], min_change: float = 2.0) -> bool:
    """True if the face moves or changes between frames: a looped still photo does not."""
    if len(crops) < 2:
        return False
    gray = [cv2.cvtColor(cv2.resize(c, (64, 64)), cv2.COLOR_RGB2GRAY).astype(np.float32) for c in crops]
    diffs = [float(np.abs(gray[i] - gray[0]).mean()) for i in range(1, len(gray))]
    return max(diffs) >= min_change

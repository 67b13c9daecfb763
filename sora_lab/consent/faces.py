"""Face finding and reference crops for cameo registration.

OpenCV 5 no longer ships its Haar cascades, so we use OpenCV's LBP frontal-face
cascade as bundled (offline) in scikit-image, run by skimage's cascade detector.
Images are RGB uint8 arrays throughout; boxes are (top, left, height, width) in pixels.
"""

from __future__ import annotations

import io
import threading
from functools import lru_cache

import cv2
import numpy as np

from sora_lab.core.errors import InputError

REFERENCE_SIZE = 256  # cropped reference images are REFERENCE_SIZE x REFERENCE_SIZE RGB
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_SIDE = 8000
DETECT_SIDE = 480  # images are shrunk to at most this side before detection (speed)
# Detections must agree across this many neighbouring windows: 8 rejects a cat's face
# and textures that 4 (skimage's default) accepts, and still finds frontal human faces.
MIN_NEIGHBOURS = 8
MAX_VIDEO_FRAMES = 900  # 30 s at 30 fps
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


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


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in an RGB image, largest first, in the image's own pixel coordinates."""
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    smallest = max(24, min(sh, sw) // 12)
    with _lock:  # the cascade object is shared; keep detection single-threaded
        found = _cascade().detect_multi_scale(
            img=small,
            scale_factor=1.1,
            step_ratio=1,
            min_size=(smallest, smallest),
            max_size=(min(sh, sw),) * 2,
            min_neighbor_number=MIN_NEIGHBOURS,
        )
    boxes = [
        (round(f["r"] / scale), round(f["c"] / scale), round(f["height"] / scale), round(f["width"] / scale))
        for f in found
    ]
    return _merge_overlapping(sorted(boxes, key=lambda b: -b[2] * b[3]))


def _merge_overlapping(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The cascade reports one face at neighbouring scales; keep the largest of overlapping boxes."""
    kept: list[tuple[int, int, int, int]] = []
    for b in boxes:
        if all(_iou(b, k) < 0.3 and not _inside(b, k) for k in kept):
            kept.append(b)
    return kept


def _iou(a, b) -> float:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, bottom - top) * max(0, right - left)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def _inside(small, big) -> bool:
    cy, cx = small[0] + small[2] / 2, small[1] + small[3] / 2
    return big[0] <= cy <= big[0] + big[2] and big[1] <= cx <= big[1] + big[3]


def crop_reference(rgb: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A square crop around the face (with margin for hair and chin), or the centre for characters."""
    h, w = rgb.shape[:2]
    if box is None:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
    else:
        r, c, bh, bw = box
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

"""Copies of a face photo as someone re-uploading another person's picture would make them, and a
liveness-style clip: shared by the likeness tests and `benchmarks/likeness.py`."""

from __future__ import annotations

import io

import cv2
import numpy as np


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """`rgb` after a JPEG round trip at `quality` (1-100)."""
    data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def rephotographed(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """A photo of the photo: a slanted frame, soft focus, other exposure, sensor noise, JPEG."""
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = (corners + rng.uniform(-0.06, 0.06, (4, 2)) * [w, h]).astype(np.float32)
    out = cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(corners, moved), (w, h),
                              borderMode=cv2.BORDER_REPLICATE)
    out = cv2.GaussianBlur(out, (0, 0), 1.2).astype(np.float32) / 255
    out = out ** rng.uniform(0.7, 1.4) * 255 * rng.uniform(0.8, 1.1) + rng.normal(0, 6, out.shape)
    return jpeg(np.clip(out, 0, 255).astype(np.uint8), 70)


def copies(rgb: np.ndarray, *, rephotos: int = 1) -> dict[str, np.ndarray]:
    """Re-encoded, resized, cropped, mirrored, grey, rotated and re-photographed copies, by name."""
    h, w = rgb.shape[:2]
    out = {
        "jpeg q30": jpeg(rgb, 30),
        "jpeg q10": jpeg(rgb, 10),
        "half size": cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "quarter size": cv2.resize(rgb, (w // 4, h // 4), interpolation=cv2.INTER_AREA),
        "mirrored": rgb[:, ::-1].copy(),
        "grey": cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB),
        "rotated 10°": cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1), (w, h),
                                      borderMode=cv2.BORDER_REFLECT),
    }
    for i, (top, left, bottom, right) in enumerate([(0.1, 0.1, 0.9, 0.9), (0, 0, 0.8, 0.8), (0.2, 0.2, 1, 1),
                                                    (0.05, 0.15, 0.75, 0.85)]):
        out[f"crop {i}"] = rgb[int(top * h):int(bottom * h), int(left * w):int(right * w)].copy()
    for k in range(rephotos):
        out[f"re-photographed {k}"] = rephotographed(rgb, k)
    return out


def clip(frames: list[np.ndarray], creation_time: str | None = None) -> bytes:
    """An H.264 MP4 of 256x256 RGB frames at 10 fps, in memory."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        if creation_time:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()

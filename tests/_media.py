"""Audio and video files made by the tests: nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_SHARED = (
    os.environ.get("SKMM_SHARED") or Path(__file__).resolve().parents[2] / "shared"
)
FSDD = Path(_SHARED) / "data" / "fsdd" / "recordings"


def tone(freq: float, seconds: float = 0.5, rate: int = 8000) -> np.ndarray:
    """A sine tone with a little noise, float32 in [-1, 1]."""
    t = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(int(freq)).normal(0, 0.01, len(t))
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write_audio(path, wave: np.ndarray, rate: int = 8000) -> str:
    import soundfile

    soundfile.write(str(path), wave, rate)
    return str(path)


def write_video(
    path, label: int, n: int = 8, size: int = 48, fps: int = 8, codec: str = "mpeg4"
) -> str:
    """A short clip of a moving square: label 0 moves right (red), 1 moves down
    (green), 2 stays still (blue)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(n):
            image = np.zeros((size, size, 3), np.uint8)
            step = 2 + (size - 16) * i // max(1, n - 1) // 2
            if label == 0:
                image[16:32, step : step + 12] = (255, 0, 0)
            elif label == 1:
                image[step : step + 12, 16:32] = (0, 255, 0)
            else:
                image[16:28, 16:28] = (0, 0, 255)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def write_undecodable_video(path, label: int = 0) -> str:
    """A well-formed container whose frame data is all zeros: no frame decodes."""
    import struct

    write_video(path, label, n=8)
    data = bytearray(open(path, "rb").read())
    at = data.find(b"mdat")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 : at - 4 + size] = bytes(size - 8)
    Path(path).write_bytes(bytes(data))
    return str(path)

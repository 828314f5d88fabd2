"""Video decoding: a video file into a few RGB frames, with PyAV (``skmm[video]``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from skmm.exceptions import DecodeError

__all__ = ["check_video", "decode_video"]

_PATH_TYPES = (str, os.PathLike)
_INSTALL_HINT = (
    "reading video files needs PyAV: pip install 'skmm[video]' (or pip install av)"
)


def check_video(value: Any) -> str | None:
    """Cheap validation of a video value (a path), without decoding it.

    Parameters
    ----------
    value : str or os.PathLike
        A non-missing video value.

    Returns
    -------
    reason : str or None
        Why the value cannot be a video, or None when it may be one.

    Examples
    --------
    >>> from skmm.io import check_video
    >>> check_video("no/such/clip.mp4")
    'file not found'
    >>> check_video(3)
    'unsupported type int; expected a path to a video file'
    """
    if isinstance(value, _PATH_TYPES):
        path = Path(value)
        if not path.exists():
            return "file not found"
        if path.is_dir():
            return "is a directory, not a video file"
        return None
    return f"unsupported type {type(value).__name__}; expected a path to a video file"


def _targets(duration: float, n_frames: int | None, fps: float | None) -> np.ndarray:
    """The times (seconds) to sample: the centres of ``n_frames`` equal segments, or
    every ``1 / fps`` seconds from 0."""
    if fps is not None:
        count = max(1, int(np.floor(duration * fps + 1e-9)))
        return np.arange(count) / fps
    return (np.arange(n_frames) + 0.5) * duration / n_frames


def decode_video(
    value: Any, n_frames: int | None = 8, fps: float | None = None
) -> list[np.ndarray]:
    """Decode the frames of a video that uniform sampling picks, as RGB arrays.

    The frames are sampled at the centres of ``n_frames`` equal segments of the
    video (or every ``1 / fps`` seconds with ``fps``); each sample is the first
    frame shown at or after its time. The video is decoded once, from the start
    (no seeking, exact on every container); only the sampled frames are converted.
    A short video yields the same frame several times rather than fewer frames.

    Parameters
    ----------
    value : str or os.PathLike
        A path to a video file (any container and codec of FFmpeg).
    n_frames : int or None, default=8
        How many frames to sample; ignored when ``fps`` is given.
    fps : float or None, default=None
        Sample this many frames per second of video instead (at least one).

    Returns
    -------
    frames : list of ndarray of shape (H, W, 3), uint8

    Raises
    ------
    skmm.exceptions.DecodeError
        When the file is not a video or no frame can be decoded.
    ImportError
        When PyAV is not installed.

    Examples
    --------
    >>> from skmm.io import decode_video
    >>> decode_video("no/such/clip.mp4")
    Traceback (most recent call last):
    ...
    skmm.exceptions.DecodeError: file not found
    """
    reason = check_video(value)
    if reason is not None:
        raise DecodeError(reason)
    try:
        import av
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    path = os.fspath(value)
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(f"not a readable video file ({exc})") from None
    with container:
        if not container.streams.video:
            raise DecodeError("the file holds no video stream")
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0
        duration = _duration(container, stream)
        if duration is None:  # unknown length: one pass to time the frames
            times = list(_frame_times(container, stream))
            duration = times[-1] - start + 1e-6 if times else 0.0
            container.seek(0)
        targets = _targets(duration, n_frames, fps)
        frames: list[np.ndarray] = []
        last = None
        try:
            for frame in container.decode(stream):
                time = _time(frame, stream) - start
                while (
                    len(frames) < len(targets) and time >= targets[len(frames)] - 1e-6
                ):
                    frames.append(frame.to_ndarray(format="rgb24"))
                last = frame
                if len(frames) == len(targets):
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if last is None:
                raise DecodeError(f"no decodable video frame ({exc})") from None
            raise DecodeError(f"corrupt or truncated video file ({exc})") from None
    if last is None:
        raise DecodeError("no decodable video frame")
    if len(frames) < len(targets):
        # Targets past the last frame (a duration longer than the frames): repeat it.
        tail = frames[-1] if frames else last.to_ndarray(format="rgb24")
        frames.extend(tail for _ in range(len(targets) - len(frames)))
    return frames


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _time(frame, stream) -> float:
    if frame.pts is not None and stream.time_base:
        return float(frame.pts * stream.time_base)
    return float(frame.time or 0.0)


def _frame_times(container, stream):
    import av

    try:
        for frame in container.decode(stream):
            yield _time(frame, stream)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(f"corrupt or truncated video file ({exc})") from None

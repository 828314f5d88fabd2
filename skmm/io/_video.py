"""Video decoding: a video file into a few RGB frames, with PyAV (``skmm[video]``)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from skmm.exceptions import DecodeError
from skmm.io._files import check_path, open_regular

__all__ = ["check_video", "decode_video"]

_PATH_TYPES = (str, os.PathLike)
# Top-level boxes an ISO base media file (MP4, MOV, M4V, 3GP) can start with.
_BMFF_FIRST = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
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
        return check_path(value, "video")
    return f"unsupported type {type(value).__name__}; expected a path to a video file"


def _isobmff_truncation(path: str) -> str | None:
    """Why an MP4/MOV file is cut short (a top-level box runs past its end), or None.

    Only the 8 or 16 header bytes of each top-level box are read.
    """
    size = os.path.getsize(path)
    with open_regular(path) as file:
        head = file.read(8)
        if len(head) < 8 or head[4:8] not in _BMFF_FIRST:
            return None
        offset = 0
        while offset + 8 <= size:
            file.seek(offset)
            head = file.read(16)
            box, name = int.from_bytes(head[:4], "big"), head[4:8]
            if box == 1:  # a 64-bit size follows the type
                box = int.from_bytes(head[8:16], "big") if len(head) == 16 else 0
                if box == 0:
                    box = size + 1
            elif box == 0:  # the last box, to the end of the file
                return None
            if box < 8:
                return None  # not a box layout: FFmpeg's own error will say more
            if offset + box > size:
                label = name.decode("latin-1")
                return (
                    f"truncated video file (its {label!r} box declares {box:,} "
                    f"bytes, the file ends {size - offset:,} bytes into it)"
                )
            offset += box
    return None


class _Sampler:
    """The sampling times, without materialising them: target ``k`` is the centre
    of segment ``k`` of ``n_frames``, or ``k / fps``."""

    def __init__(self, duration: float, n_frames: int | None, fps: float | None):
        self.duration, self.fps = duration, fps
        if fps is not None:
            self.total = max(1, int(np.floor(duration * fps + 1e-9)))
        else:
            self.total = int(n_frames)

    def target(self, k: int) -> float:
        if self.fps is not None:
            return k / self.fps
        return (k + 0.5) * self.duration / self.total

    def reached(self, time: float) -> int:
        """How many targets a frame shown at ``time`` reaches (at or before it)."""
        if self.fps is not None:
            guess = math.floor((time + 1e-6) * self.fps) + 1
        elif self.duration > 0:
            guess = math.floor((time + 1e-6) * self.total / self.duration - 0.5) + 1
        else:
            guess = self.total
        guess = min(max(guess, 0), self.total)
        while guess < self.total and time >= self.target(guess) - 1e-6:
            guess += 1
        while guess > 0 and time < self.target(guess - 1) - 1e-6:
            guess -= 1
        return guess


def decode_video(
    value: Any,
    n_frames: int | None = 8,
    fps: float | None = None,
    *,
    distinct: bool = False,
) -> list[np.ndarray]:
    """Decode the frames of a video that uniform sampling picks, as RGB arrays.

    The frames are sampled at the centres of ``n_frames`` equal segments of the
    video (or every ``1 / fps`` seconds with ``fps``); each sample is the first
    frame shown at or after its time. The video is decoded once, from the start
    (no seeking, exact on every container); only the sampled frames are converted.
    A short video yields the same frame several times rather than fewer frames
    (the same array each time: no copy), unless ``distinct=True``.

    An image file (JPEG, PNG...) is not a video, even though FFmpeg reads it as
    one frame; an animated GIF is a video. An MP4 or MOV file cut short (a
    truncated download) is refused, whatever FFmpeg would make of it.

    Parameters
    ----------
    value : str or os.PathLike
        A path to a video file (any container and codec of FFmpeg).
    n_frames : int or None, default=8
        How many frames to sample; ignored when ``fps`` is given.
    fps : float or None, default=None
        Sample this many frames per second of video instead (at least one).
    distinct : bool, default=False
        Return each sampled frame once, in time order: a clip with fewer frames
        than the samples asked gives each of its frames once, so that memory never
        grows with ``n_frames`` beyond the frames the clip has.

    Returns
    -------
    frames : list of ndarray of shape (H, W, 3), uint8

    Raises
    ------
    skmm.exceptions.DecodeError
        When the file is not a video, is truncated, or no frame can be decoded.
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
    truncated = _isobmff_truncation(path)
    if truncated is not None:
        raise DecodeError(truncated)
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(
            "not a readable video file: not a video, or a corrupt or truncated one "
            f"({exc})"
        ) from None
    with container:
        demuxer = container.format.name
        if demuxer == "image2" or demuxer.endswith("_pipe"):
            kind = demuxer.removesuffix("_pipe")
            raise DecodeError(
                f"an image file ({kind}), not a video; put images in an image column"
            )
        if not container.streams:
            raise DecodeError(
                "corrupt or truncated video file (no stream could be read)"
            )
        if not container.streams.video:
            raise DecodeError("the file holds no video stream")
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0
        duration = _duration(container, stream)
        if duration is None:  # unknown length: one pass to time the frames
            times = list(_frame_times(container, stream))
            duration = times[-1] - start + 1e-6 if times else 0.0
            container.seek(0)
        sampler = _Sampler(duration, n_frames, fps)
        frames: list[np.ndarray] = []
        counts: list[int] = []
        taken = 0
        last = None
        try:
            for frame in container.decode(stream):
                reached = sampler.reached(_time(frame, stream) - start)
                if reached > taken:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    counts.append(reached - taken)
                    taken = reached
                last = frame
                if taken == sampler.total:
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if last is None:
                raise DecodeError(
                    "no decodable video frame: a corrupt or truncated video file "
                    f"({exc})"
                ) from None
            raise DecodeError(f"corrupt or truncated video file ({exc})") from None
    if last is None:
        raise DecodeError("no decodable video frame")
    if taken < sampler.total:
        # Targets past the last frame (a duration longer than the frames): the
        # last sampled frame stands for them.
        if frames:
            counts[-1] += sampler.total - taken
        else:
            frames, counts = [last.to_ndarray(format="rgb24")], [sampler.total]
    if distinct:
        return frames
    return [f for f, count in zip(frames, counts, strict=True) for _ in range(count)]


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

"""A face on camera -> ARKit curves: performance capture from a video or a photo, with no iPhone.

    frames (PyAV decodes the video, scaled to at most ``max_side`` px; a photo is one frame)
      -> MediaPipe FaceLandmarker per frame (``landmarker.py``): 52 blendshapes named as ARKit's
         (tongueOut is not tracked and stays 0) and the head's rotation matrix
      -> head yaw / pitch / roll in the rig's convention (R = R_yaw R_pitch R_roll, ``rigs.lbs``)
      -> frames with no face filled from their neighbours; curves smoothed (Savitzky-Golay) and
         resampled to the rig's frame rate; weights clipped to [0, 1], angles to the neck's range
      -> ``Motion`` for the arkit rig

A photo becomes a held expression of ``photo_seconds``: what the emotion space reads as a reference
motion. A video where no face is found, or where several faces are, is refused with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.face.landmarker import FaceFrame, Landmarker
from emoanim.motion import Motion
from emoanim.motion.checks import check_readable
from emoanim.rigs import rig_param_ranges
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS, HEAD_PARAMS

RIG = "arkit"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class TrackConfig:
    fps: float = 25.0  # frame rate of the curves (the rig's)
    max_seconds: float = 600.0  # longest video accepted (10 minutes)
    max_megabytes: float = 2048.0  # largest file accepted
    max_side: int = 640  # frames are scaled down to at most this many pixels on their longer side
    photo_seconds: float = 2.0  # a photo becomes a held expression this long
    min_face_share: float = 0.5  # a video needs a face in at least this share of its frames
    max_crowded_share: float = 0.2  # ... and may show several faces in at most this share
    smooth_frames: int = 5  # Savitzky-Golay window (frames at the tracked rate; odd); 1 = none


ProgressFn = Callable[[int, int], None]  # (frames done, frames in all)


def track_face(path: str | Path, config: TrackConfig | None = None, progress: ProgressFn | None = None) -> Motion:
    """A face video or photo -> ARKit ``Motion`` (52 actions + head angles) at ``config.fps``."""
    config = config or TrackConfig()
    path = check_readable(path, "face video")
    size = path.stat().st_size
    if size > config.max_megabytes * 2**20:
        raise EmoAnimError(f"{path.name} is {size / 2**20:.0f} MB; the limit is {config.max_megabytes:g} MB: "
                           "trim or compress the video")
    if size == 0:
        raise EmoAnimError(f"{path.name} is empty: give a video or photo of one face")
    photo = _read_photo(path)
    if photo is not None:
        with Landmarker(video=False) as landmarker:
            frame = landmarker.detect(_fit(photo, config.max_side))
        curves = _only_face(frame, path.name)
        frames = max(1, int(round(config.photo_seconds * config.fps)))
        return _motion(np.repeat(curves[None], frames, 0), config.fps)
    times, faces = _track_video(path, config, progress)
    return _motion(_curves(times, faces, path.name, config), config.fps)


# ---- frames ---------------------------------------------------------------------------------------


MAX_PHOTO_PIXELS = 90_000_000  # a 90-megapixel photo decodes to 270 MB; an image bomb claims billions


def check_photo_size(path: str | Path) -> None:
    """Refuse an image whose header claims more than ``MAX_PHOTO_PIXELS``, before anything decodes it
    (a few hundred kilobytes of PNG can claim gigapixels). Files that are not images pass."""
    from PIL import Image, UnidentifiedImageError  # lazy: start-up time

    path = Path(path)
    try:
        with Image.open(path) as image:  # (reads the header only)
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return
    except Image.DecompressionBombError:
        width, height = MAX_PHOTO_PIXELS, 2
    if width * height > MAX_PHOTO_PIXELS:
        raise EmoAnimError(f"{path.name} is too large an image; give a photo under {MAX_PHOTO_PIXELS // 10**6} "
                           "megapixels")


def _read_photo(path: Path) -> np.ndarray | None:
    """The RGB pixels [H, W, 3] if the file is an image (by its content, not its name), else None."""
    from PIL import Image, UnidentifiedImageError  # lazy: start-up time

    check_photo_size(path)
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1:  # an animated GIF/WebP is a video
                return None
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Scaled down (never up) so the longer side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    from PIL import Image

    scale = max_side / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale)))))


def _track_video(path: Path, config: TrackConfig, progress: ProgressFn | None) -> tuple[np.ndarray, list[FaceFrame]]:
    """Decode and track every frame: (times [N] s, what was seen in each)."""
    import av  # lazy: start-up time

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError):
        raise EmoAnimError(f"cannot read {path.name} as a video or photo: give an MP4/MOV/WebM video or a "
                           "JPEG/PNG photo of one face") from None
    with container:
        if not container.streams.video:
            raise EmoAnimError(f"{path.name} has no video track: give a video or photo of a face")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = (float(stream.duration * stream.time_base) if stream.duration else
                    container.duration / 1e6 if container.duration else None)
        if duration is not None and duration > config.max_seconds:
            raise EmoAnimError(f"{path.name} is {duration:.0f} s long; the limit is {config.max_seconds:g} s: "
                               "trim the video")
        rate = float(stream.average_rate or 25)
        total = int(stream.frames or round((duration or 0) * rate)) or None
        w, h = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, config.max_side / max(w, h, 1))
        size = dict(width=max(2, round(w * scale)), height=max(2, round(h * scale))) if scale < 1 else {}
        times, faces, last_ms = [], [], -1
        with Landmarker(video=True) as landmarker:
            try:
                for frame in container.decode(stream):
                    t = float(frame.time) if frame.time is not None else len(times) / rate
                    if t > config.max_seconds:
                        raise EmoAnimError(f"{path.name} is longer than {config.max_seconds:g} s: trim the video")
                    ms = max(int(round(t * 1000)), last_ms + 1)  # MediaPipe needs rising timestamps
                    faces.append(landmarker.detect(frame.to_ndarray(format="rgb24", **size), ms))
                    times.append(t)
                    last_ms = ms
                    if progress is not None:
                        progress(len(times), max(total or 0, len(times)))
            except av.error.FFmpegError as exc:
                if not times:
                    raise EmoAnimError(f"cannot decode {path.name} ({exc}): the video is damaged") from None
    if not times:
        raise EmoAnimError(f"{path.name} has no video frames: give a video or photo of a face")
    return np.asarray(times), faces


# ---- curves -----------------------------------------------------------------------------------------


def _frame_curves(shapes: dict[str, float], rotation: np.ndarray) -> np.ndarray:
    """One face's blendshapes and rotation -> [55] ARKit parameters (actions by name, then head angles)."""
    from scipy.spatial.transform import Rotation  # lazy: start-up time

    out = np.zeros(len(ARKIT_PARAMS))
    for k, name in enumerate(ARKIT_ACTIONS):
        out[k] = shapes.get(name, 0.0)  # MediaPipe has no tongueOut
    # MediaPipe's face frame and the rig's agree (x right, y up, z towards the camera), and the rig
    # composes R = R_yaw(y) R_pitch(x) R_roll(z): intrinsic Y-X-Z Euler angles.
    yaw, pitch, roll = Rotation.from_matrix(rotation).as_euler("YXZ")
    out[[ARKIT_PARAMS.index(n) for n in HEAD_PARAMS]] = yaw, pitch, roll
    return out


def _only_face(frame: FaceFrame, name: str) -> np.ndarray:
    if not frame.blendshapes:
        raise EmoAnimError(f"no face found in {name}: give a photo or video where one face is clearly visible")
    if len(frame.blendshapes) > 1:
        raise EmoAnimError(f"{name} shows {len(frame.blendshapes)} faces; crop it to the one face to read")
    return _frame_curves(frame.blendshapes[0], frame.rotations[0])


def _curves(times: np.ndarray, faces: list[FaceFrame], name: str, config: TrackConfig) -> np.ndarray:
    """Tracked frames -> curves [T, 55] at ``config.fps``: gaps filled, smoothed, resampled."""
    seen = np.array([len(f.blendshapes) >= 1 for f in faces])
    crowded = np.array([len(f.blendshapes) > 1 for f in faces])
    if not seen.any():
        raise EmoAnimError(f"no face found in {name}: give a video where one face is clearly visible")
    if seen.mean() < config.min_face_share:
        raise EmoAnimError(f"a face is visible in only {seen.mean():.0%} of {name}; give a video where one face is "
                           f"visible at least {config.min_face_share:.0%} of the time, or trim it")
    if crowded.mean() > config.max_crowded_share:
        raise EmoAnimError(f"{name} shows several faces in {crowded.mean():.0%} of its frames; crop it to the one "
                           "face to read")
    rows = np.stack([_frame_curves(f.blendshapes[0], f.rotations[0]) for f, s in zip(faces, seen) if s])
    at = times[seen]
    if len(rows) >= config.smooth_frames > 2:
        from scipy.signal import savgol_filter  # lazy: start-up time

        rows = savgol_filter(rows, config.smooth_frames | 1, 2, axis=0, mode="interp" if len(rows) > config.smooth_frames else "nearest")
    duration = max(times[-1] - times[0], 0.0) + (times[1] - times[0] if len(times) > 1 else 1 / config.fps)
    grid = times[0] + np.arange(max(1, int(round(duration * config.fps)))) / config.fps
    # Gaps (no face) and the new frame rate in one step: linear between tracked frames, held at the ends.
    return np.stack([np.interp(grid, at, rows[:, j]) for j in range(rows.shape[1])], 1)


def _motion(curves: np.ndarray, fps: float) -> Motion:
    low, high = rig_param_ranges(RIG, ARKIT_PARAMS)
    return Motion(np.clip(curves, low, high).astype(np.float32), tuple(ARKIT_PARAMS), fps, RIG)


__all__ = ["TrackConfig", "track_face"]

"""Motion (+ audio) -> MP4: poses the rig, renders frames and streams them into the encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from emoanim.render.renderer import FaceRenderer, RenderConfig
from emoanim.render.video import VideoWriter
from emoanim.rigs.base import FaceRig
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import MUX_SAMPLE_RATE

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)
OverlayFn = Callable[[int, np.ndarray], np.ndarray]  # (frame index, RGB frame) -> RGB frame


def fit_to_frames(params: np.ndarray, num_frames: int) -> np.ndarray:
    """Trim, or hold the last pose, so a motion covers exactly ``num_frames`` frames."""
    if len(params) >= num_frames:
        return params[:num_frames]
    return np.concatenate([params, np.repeat(params[-1:], num_frames - len(params), axis=0)])


def render_frames(renderer: FaceRenderer, params: np.ndarray, chunk: int = 32) -> Iterator[np.ndarray]:
    """Yield RGB frames, posing the rig a chunk at a time so memory stays flat in video length.

    Two stages overlap: a thread poses and lights the next chunk (NumPy) while this one draws the
    current chunk (OpenGL, whose calls let the thread run)."""
    from concurrent.futures import ThreadPoolExecutor  # lazy: start-up time

    def prepare(start: int) -> list[np.ndarray]:
        return [renderer.vertex_data(v) for v in renderer.rig.vertices(params[start : start + chunk])]

    starts = range(0, len(params), chunk)
    with ThreadPoolExecutor(1, thread_name_prefix="emoanim-pose") as pool:
        ahead = pool.submit(prepare, 0) if len(params) else None
        for start in starts:
            batch = ahead.result()
            ahead = pool.submit(prepare, start + chunk) if start + chunk < len(params) else None
            for data in batch:
                yield renderer.draw(data)


def render_video(
    rig: FaceRig,
    params: np.ndarray,
    fps: float,
    out_path: str | Path,
    audio: np.ndarray | None = None,
    sample_rate: int = MUX_SAMPLE_RATE,
    config: RenderConfig | None = None,
    progress: ProgressFn | None = None,
    overlay: OverlayFn | None = None,
    audio_file: str | Path | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Render ``params [T, D]`` at ``fps`` to an H.264/AAC MP4 lasting as long as the audio: samples
    (``audio`` at ``sample_rate``) or a file ffmpeg reads itself (``audio_file``, ``audio_seconds`` long).

    Without audio the video lasts ``T / fps``. Nothing is left at ``out_path`` on failure.
    """
    params = rig.check_params(params)
    config = config or RenderConfig()
    seconds = audio_seconds if audio_file is not None else None if audio is None else len(audio) / sample_rate
    num_frames = len(params) if seconds is None else frames_for_duration(seconds, fps)
    params = fit_to_frames(params, num_frames)
    # Open the writer first: it checks the output path before any rendering work is done.
    with VideoWriter(out_path, config.width, config.height, fps, audio=audio, sample_rate=sample_rate,
                     audio_file=audio_file, audio_seconds=audio_seconds) as writer:
        with FaceRenderer(rig, config) as renderer:
            for index, frame in enumerate(render_frames(renderer, params)):
                writer.write(frame if overlay is None else overlay(index, frame))
                if progress is not None:
                    progress(index + 1, num_frames)
    return Path(out_path)

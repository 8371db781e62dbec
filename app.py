"""EmoAnim web app: a voice clip + an emotion -> a talking 3D head (MP4) and its animation curves.

A thin Gradio layer over ``emoanim.pipeline.Animator``; every step is the pipeline's own.

    python app.py          # http://localhost:7860 (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME respected)

Settings (environment): see ``Settings`` (checkpoints, device, size, longest speech, upload size,
concurrency, queue, retention, FLAME model, results folder) and the README's table.
The named endpoint ``/generate`` serves ``gradio_client`` (see the README).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import html
import inspect
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network needed (or wanted) at run time
import anyio  # noqa: E402
import gradio as gr  # noqa: E402

from emoanim.audio.io import AUDIO_SUFFIXES  # noqa: E402
from emoanim.errors import EmoAnimError, NoSpaceError  # noqa: E402
from emoanim.face.tracking import check_photo_size  # noqa: E402
from emoanim.pipeline import (  # noqa: E402
    MAX_TRANSCRIPT_CHARS,
    Animator,
    AnimatorConfig,
    EmotionSource,
    Keyframe,
    ProgressFn,
    check_timeline,
    describe_emotion,
)
from emoanim.rigs.arkit import AVATARS, DEFAULT_AVATAR  # noqa: E402
from emoanim.vocabulary import CHECKPOINTS_DIR, DEFAULT_GUIDANCE, DEFAULT_STEPS, EMOTIONS  # noqa: E402

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"
log = logging.getLogger("emoanim.app")

# Radio labels of the emotion sources -> EmotionSource kinds
SOURCES = {
    "Emotion label": "label",
    "Describe it in words": "text",
    "Borrow from a voice clip": "audio",
    "Borrow from a motion file": "motion",
    "Borrow from a face": "face",
    "Automatic (from the speech)": "auto",
    "Emotion over time": "timeline",
}
TIMELINE_COLUMNS = ["time (s)", "emotion", "intensity", "or in words"]
TIMELINE_EXAMPLE = [[0.0, "happy", 3, ""], [5.0, "sad", 3, ""]]
BLEND_SOURCES = ("Emotion label", "Describe it in words")
AUDIO_TYPES = list(AUDIO_SUFFIXES)
MOTION_TYPES = [".npz", ".csv", ".json"]
FACE_VIDEO_TYPES = [".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"]
ARKIT_FACE, FLAME_FACE = "ARKit head (Anny)", "FLAME (your model)"
KEEP_RESULTS_S = 3600  # per-request output folders older than this are deleted
RESULTS_FOLDER = "emoanim_app"  # in the system temp folder, unless EMOANIM_RESULTS_DIR says where
LOCK_NAME = ".lock"  # in each server process's results folder, locked while it lives
EXAMPLES = [  # (clip, source, emotion, intensity, text)
    ["happy.ogg", "Emotion label", "happy", 3, ""],
    ["sad.mp3", "Describe it in words", "sad", 2, "heartbroken, close to tears"],
    ["angry.wav", "Automatic (from the speech)", "angry", 3, ""],
    ["surprised.flac", "Emotion label", "surprised", 2, ""],
]

INTRO = """# EmoAnim: speech to an emotional 3D talking head
Give a voice clip and choose the emotion; get a talking-head video with your audio, and the
animation as ARKit blendshape curves (`.npz`, Live Link Face `.csv` for Unreal/MetaHuman and Blender).
The emotion can be a label, words, the mood of another voice clip, a motion, a face on camera, or what the speech
itself sounds like.
"""


class Outputs:
    """Per-request output folders, under one folder per server process inside ``parent``.

    A request's folder is deleted after ``keep_s`` (and at once when it fails or is cancelled), the
    process's folder at exit. A killed server cannot clean up, so each process holds a lock on its
    folder while it lives, and a starting server deletes the folders whose lock nobody holds: after a
    crash, the next start leaves no partial file behind."""

    def __init__(self, keep_s: float = KEEP_RESULTS_S, parent: str | Path | None = None) -> None:
        parent = Path(parent) if parent else Path(tempfile.gettempdir()) / RESULTS_FOLDER
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.abandoned = _remove_abandoned(parent)  # folders of servers that died
            self.root = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
            self._lock = open(self.root / LOCK_NAME, "w")  # noqa: SIM115 (held for the process's life)
        except OSError as exc:
            raise EmoAnimError(f"cannot use the results folder {parent}: {exc.strerror or exc}; set "
                               "EMOANIM_RESULTS_DIR to a writable folder") from None
        _lock(self._lock, block=True)
        self.keep_s = keep_s
        atexit.register(self.close)

    def new(self) -> Path:
        self.sweep()
        return Path(tempfile.mkdtemp(prefix="req_", dir=self.root))

    def sweep(self) -> None:
        cutoff = time.time() - self.keep_s
        for folder in self.root.glob("req_*"):
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self._lock.close()


def _lock(file, block: bool) -> bool:
    """An exclusive lock on an open file (released by the kernel when its process dies); False when
    ``block`` is off and another process holds it. No locks without fcntl (Windows): nothing is swept."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fcntl.flock(file, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False


def _remove_abandoned(parent: Path) -> list[Path]:
    """Delete the folders in ``parent`` of server processes that are gone (their lock is free)."""
    removed = []
    for folder in parent.glob("run-*"):
        try:
            with open(folder / LOCK_NAME, "r+") as lock:  # (never created here: a starting server makes its own)
                if not _lock(lock, block=False):
                    continue  # a live server's
        except FileNotFoundError:  # a server between making its folder and its lock, or one that died there
            try:
                if time.time() - folder.stat().st_mtime < 60:
                    continue
            except FileNotFoundError:
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    if removed:
        log.info("deleted %d results folder(s) left by servers that stopped without cleaning up", len(removed))
    return removed


class _Cancelled(Exception):
    """Raised in a request's worker thread, at its next progress report, once the request is cancelled."""


class _Running:
    """Each session's requests in progress, by their stop flags: a visitor who leaves stops theirs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[str, set[threading.Event]] = {}

    @contextlib.contextmanager
    def track(self, session: str | None, flag: threading.Event):
        with self._lock:
            self._flags.setdefault(session, set()).add(flag)
        try:
            yield
        finally:
            with self._lock:
                flags = self._flags.get(session, set())
                flags.discard(flag)
                if not flags:
                    self._flags.pop(session, None)

    def stop(self, session: str | None) -> None:
        with self._lock:
            for flag in self._flags.pop(session, set()):
                flag.set()


def _cancellable(work: Callable[..., object], running: _Running) -> Callable:
    """``work(*inputs, report=...)`` as a Gradio event function that can be stopped. It runs in a worker
    thread; a cancelled request (the Stop button, a client's cancel, a visitor who leaves) makes
    ``report`` raise at the worker's next progress report, so sampling and rendering stop within a step
    or a few frames, and ``work`` deletes what it wrote. The function's signature is ``work``'s inputs
    then the request and the progress tracker, which Gradio fills in (and names the API's parameters by)."""

    async def run(*args):
        *inputs, request, progress = args
        stop = threading.Event()

        def report(fraction: float, stage: str) -> None:
            if stop.is_set():
                raise _Cancelled(stage)
            progress(fraction, desc=stage)

        def guarded():
            try:
                return work(*inputs, report=report)
            except _Cancelled:  # (``work`` has cleaned up; an abandoned thread must not raise to no one)
                return _Cancelled

        with running.track(getattr(request, "session_hash", None), stop):
            try:
                result = await anyio.to_thread.run_sync(guarded, abandon_on_cancel=True)
            finally:
                stop.set()  # (a no-op once the work is done)
        if result is _Cancelled:  # stopped because the visitor left: nobody reads this
            raise gr.Error("This request was cancelled.", print_exception=False)
        return result

    given = [p for p in inspect.signature(work).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    extra = inspect.Parameter.POSITIONAL_OR_KEYWORD
    run.__signature__ = inspect.Signature([*given, inspect.Parameter("request", extra, default=None),
                                           inspect.Parameter("progress", extra, default=gr.Progress())])
    run.__annotations__ = {"request": gr.Request}
    run.__name__ = run.__qualname__ = work.__name__
    return run


class PhotoInput(gr.Image):
    """gr.Image whose upload is measured before PIL decodes it: an image bomb (a small PNG that claims
    gigapixels) gets the one-line reason instead of a server error."""

    def preprocess(self, payload):
        if payload is not None and getattr(payload, "path", None):
            try:
                check_photo_size(payload.path)
            except EmoAnimError as exc:
                raise gr.Error(html.escape(str(exc)), title="Cannot animate this", print_exception=False) from None
        return super().preprocess(payload)


@dataclass(frozen=True)
class Settings:
    """What an operator sets, all in one place, from the environment (defaults suit a free CPU Space:
    2 vCPUs, 16 GB). ``Settings.from_env()``; a bad value stops the start with one line."""

    checkpoints: Path = HERE / CHECKPOINTS_DIR  # EMOANIM_CHECKPOINTS: the model folder
    device: str | None = None  # EMOANIM_DEVICE: cpu or cuda (default: cuda when there is one)
    size: int | None = None  # EMOANIM_SIZE: video width and height in pixels (None: AnimatorConfig's 512)
    max_seconds: float | None = None  # EMOANIM_MAX_SECONDS: longest speech and reference clip (None: 60)
    max_upload_mb: float = 50.0  # EMOANIM_MAX_UPLOAD_MB: larger uploads are refused before they are read
    concurrency: int = 2  # EMOANIM_CONCURRENCY: takes made at once (one per CPU core is right on a CPU)
    queue_size: int = 32  # EMOANIM_QUEUE_SIZE: requests waiting beyond those; more are turned away
    keep_results_s: float = KEEP_RESULTS_S  # EMOANIM_KEEP_RESULTS_S: each request's files are deleted after this
    flame_model: Path | None = None  # EMOANIM_FLAME_MODEL: a FLAME model file: the app then offers FLAME
    results_dir: Path | None = None  # EMOANIM_RESULTS_DIR: where takes and uploads are kept (None: temp/emoanim_app)

    ENV = {"checkpoints": ("EMOANIM_CHECKPOINTS", Path), "device": ("EMOANIM_DEVICE", str),
           "size": ("EMOANIM_SIZE", int), "max_seconds": ("EMOANIM_MAX_SECONDS", float),
           "max_upload_mb": ("EMOANIM_MAX_UPLOAD_MB", float), "concurrency": ("EMOANIM_CONCURRENCY", int),
           "queue_size": ("EMOANIM_QUEUE_SIZE", int), "keep_results_s": ("EMOANIM_KEEP_RESULTS_S", float),
           "flame_model": ("EMOANIM_FLAME_MODEL", Path), "results_dir": ("EMOANIM_RESULTS_DIR", Path)}

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        values = {}
        for field_name, (name, kind) in cls.ENV.items():
            text = env.get(name)
            if text:
                try:
                    values[field_name] = kind(text)
                except ValueError:
                    what = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
                    raise EmoAnimError(f"{name}={text!r} is not {what}") from None
        settings = cls(**values)
        for name in ("max_upload_mb", "concurrency", "queue_size", "keep_results_s"):
            if not getattr(settings, name) > 0:
                raise EmoAnimError(f"{cls.ENV[name][0]} must be positive, got {getattr(settings, name)}")
        if settings.flame_model is not None and not settings.flame_model.is_file():
            log.warning("EMOANIM_FLAME_MODEL=%s is not a file: FLAME is not offered", settings.flame_model)
            settings = dataclasses.replace(settings, flame_model=None)
        return settings

    def animator_config(self) -> AnimatorConfig:
        given = {"max_seconds": self.max_seconds, "size": self.size, "flame_model": self.flame_model}
        return AnimatorConfig(**{key: value for key, value in given.items() if value is not None})


def default_config() -> AnimatorConfig:
    """``AnimatorConfig`` with the settings the environment gives (the rest its defaults)."""
    return Settings.from_env().animator_config()


class _Lazy:
    """Loads the Animator once, on first use (so importing this module stays cheap)."""

    def __init__(self, load: Callable[[], Animator]) -> None:
        self._load = load
        self._animator: Animator | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Animator:
        with self._lock:
            if self._animator is None:
                self._animator = self._load()
            return self._animator


def load_animator(settings: Settings | None = None) -> Animator:
    settings = settings or Settings.from_env()
    return Animator.from_pretrained(settings.checkpoints, device=settings.device, config=settings.animator_config(),
                                    warm_up=True)


def _source(kind_label: str, emotion: str | None, intensity, text: str | None, ref_audio: str | None,
            ref_motion: str | None, ref_face: str | None = None) -> EmotionSource:
    if kind_label not in SOURCES:
        raise EmoAnimError(f"unknown emotion source '{kind_label}'; choose one of: {', '.join(SOURCES)}")
    kind = SOURCES[kind_label]
    if kind == "label":
        return EmotionSource.label(emotion or "neutral", int(intensity or 2))
    if kind == "text":
        return EmotionSource.from_text(text or "")
    if kind == "audio":
        if not ref_audio:
            raise EmoAnimError("no reference voice clip: upload or record the clip whose emotion to borrow")
        return EmotionSource.from_audio(ref_audio)
    if kind == "motion":
        if not ref_motion:
            raise EmoAnimError("no reference motion file: upload a .npz, .csv or .json motion")
        return EmotionSource.from_motion(ref_motion)
    if kind == "face":
        if not ref_face:
            raise EmoAnimError("no face: take a photo with the webcam, or upload a photo or short video of one face")
        return EmotionSource.from_face(ref_face)
    return EmotionSource.auto()


def _timeline(rows) -> list[Keyframe]:
    """The "Emotion over time" table (time, emotion, intensity, words) -> keyframes; empty rows are skipped,
    words (when given) win over the label."""
    rows = rows.values.tolist() if hasattr(rows, "values") else list(rows or [])
    keys = []
    for row in rows:
        cells = [("" if c is None else str(c)).strip() for c in list(row) + [""] * (4 - len(row))]
        if cells[3].lower() == "nan":
            cells[3] = ""
        if not any(cells):
            continue
        try:
            t = float(cells[0])
        except ValueError:
            raise EmoAnimError(f"timeline: '{cells[0]}' is not a time in seconds") from None
        if cells[3]:
            keys.append((t, EmotionSource.from_text(cells[3])))
        else:
            try:
                level = int(float(cells[2] or 2))
            except ValueError:
                raise EmoAnimError(f"timeline at {t:g} s: the intensity is 1, 2 or 3, got '{cells[2]}'") from None
            keys.append((t, EmotionSource.label(cells[1] or "neutral", level)))
    return check_timeline(keys)


def build_demo(animator: Animator | Callable[[], Animator] | None = None, *, size: int | None = None,
               examples: bool = True, settings: Settings | None = None, outputs: Outputs | None = None) -> gr.Blocks:
    """The app. ``animator``: an Animator, a function returning one, or None (load ``checkpoints``
    lazily). ``size``: video pixels (default the animator's config, 512). ``settings``: the operator's
    (default: from the environment). ``outputs``: where takes go (default: in ``settings.results_dir``)."""
    settings = settings or Settings.from_env()
    if isinstance(animator, Animator):
        get_animator: Callable[[], Animator] = lambda: animator  # noqa: E731
    else:
        get_animator = _Lazy(animator or (lambda: load_animator(settings)))
    outputs_root = outputs or Outputs(settings.keep_results_s, settings.results_dir)
    running = _Running()
    config = animator.config if isinstance(animator, Animator) else settings.animator_config()
    max_seconds, flame_available = config.max_seconds, config.flame_model is not None

    def make_take(audio, source_kind, emotion, intensity, text, ref_audio, ref_motion, blend_weight, blend_kind,
                  blend_emotion, blend_intensity, blend_text, guidance, steps, seed, avatar, transcript=None,
                  timeline=None, face_photo=None, face_video=None, face=None, *, report: ProgressFn):
        folder = None
        try:
            seed = int(seed or 0)  # guidance and steps: None (unset) is the animator's default
            over_time = SOURCES.get(source_kind) == "timeline"
            source = _timeline(timeline) if over_time else _source(source_kind, emotion, intensity, text, ref_audio,
                                                                    ref_motion, face_video or face_photo)
            blend = None
            if blend_weight and float(blend_weight) > 0 and not over_time:
                blend = (_source(blend_kind or "Emotion label", blend_emotion, blend_intensity, blend_text, None, None),
                         float(blend_weight))
            report(0.0, "loading model")
            anim = get_animator()
            try:
                folder = outputs_root.new()
            except OSError as exc:
                raise NoSpaceError(f"cannot make a results folder: {exc}") from None
            on_flame = face == FLAME_FACE
            result = anim.generate(
                audio or None, source, folder / "emoanim.mp4", guidance=guidance, steps=steps, seed=seed,
                blend=blend, avatar=avatar or None, size=size, progress=report,
                transcript=transcript or None, face="flame" if on_flame else "arkit",
                flame_out=folder / "emoanim_flame.npz" if on_flame else None)
            exports = anim.export(result.motion, folder, stem="emoanim", avatar=avatar or None)
            t, sampling = result.timings, result.sampling
            if over_time:
                nearest_text = ""
            else:
                nearest, level, cosine = anim.space.classify(result.style)
                nearest_text = f" (nearest: {nearest} {level}, cos {cosine:.2f})"
            info = (f"**{result.motion.duration:.1f} s**, {result.motion.num_frames} frames · emotion: "
                    f"{html.escape(describe_emotion(source))}" + (f" blended {float(blend_weight):.0%} with "
                                                                 f"{html.escape(blend[0].describe())}" if blend else "")
                    + f"{nearest_text} · guidance {sampling.guidance:g}, "
                    f"{sampling.steps} steps, seed {sampling.seed} · {sum(t.values()):.1f} s: "
                    + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
            if result.content_info is not None:
                info += f"  \n{html.escape(result.content_info.describe())}"
            for line in result.readings:
                info += f"  \nEmotion: {html.escape(line)}"
            glb = None if exports.glb is None else str(exports.glb)
            flame = str(folder / "emoanim_flame.npz") if on_flame else None
            return str(result.video), str(exports.npz), str(exports.csv), glb, glb, str(exports.plot), flame, info
        except NoSpaceError as exc:  # the operator's to fix (the visitor is not shown the server's paths)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            log.error("no room for a take: %s", exc)
            raise gr.Error("The server has no room for a new take just now; try again later.",
                           title="Cannot animate this", print_exception=False) from None
        except EmoAnimError as exc:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise gr.Error(html.escape(str(exc)), title="Cannot animate this", print_exception=False) from None
        except gr.Error:
            raise
        except _Cancelled as stopped:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            log.info("a request was cancelled at '%s': stopped there, its files deleted", stopped)
            raise
        except Exception:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            log.exception("generation failed")
            raise gr.Error("Something went wrong while animating; the details are in the server log.") from None

    def leave(request: gr.Request) -> None:
        running.stop(request.session_hash)  # the visitor closed the page: their takes in progress stop

    generate = _cancellable(make_take, running)

    def show_source(kind_label: str):
        kind = SOURCES.get(kind_label, "label")
        return (gr.update(visible=kind == "label"), gr.update(visible=kind == "text"),
                gr.update(visible=kind == "audio"), gr.update(visible=kind == "motion"),
                gr.update(visible=kind == "face"), gr.update(visible=kind == "timeline"))

    def read_text(words: str | None) -> str:
        """What the emotion text will be read as, shown under the box before generating."""
        if not words or not words.strip():
            return ""
        try:
            return f"Read as: {html.escape(get_animator().space.read_text(words).describe())}"
        except EmoAnimError as exc:
            return html.escape(str(exc))

    def show_blend_source(kind_label: str):
        return gr.update(visible=kind_label == "Emotion label"), gr.update(visible=kind_label != "Emotion label")

    with gr.Blocks(title="EmoAnim", delete_cache=(600, KEEP_RESULTS_S)) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speech (up to "
                                 f"{max_seconds:g} s: wav, mp3, flac, ogg, m4a)", elem_id="speech")
                source_kind = gr.Radio(list(SOURCES), value="Emotion label", label="Emotion from",
                                       elem_id="source-kind")
                with gr.Group(visible=True) as label_group:
                    with gr.Row():
                        emotion = gr.Dropdown(list(EMOTIONS), value="happy", label="Emotion", elem_id="emotion")
                        intensity = gr.Radio([1, 2, 3], value=2, label="Intensity (weak, medium, strong)",
                                             elem_id="intensity")
                with gr.Group(visible=False) as text_group:
                    text = gr.Textbox(label="Describe the emotion", placeholder="e.g. quietly furious",
                                      max_length=300, elem_id="emotion-text")
                    text_reading = gr.Markdown(elem_id="text-reading")
                with gr.Group(visible=False) as audio_group:
                    ref_audio = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                         label="Voice clip whose emotion to borrow", elem_id="ref-audio")
                with gr.Group(visible=False) as motion_group:
                    ref_motion = gr.File(file_types=MOTION_TYPES, type="filepath",
                                         label="Motion file whose emotion to borrow (.npz, .csv, .json)",
                                         elem_id="ref-motion")
                with gr.Group(visible=False) as face_group:
                    with gr.Row():
                        face_photo = PhotoInput(sources=["webcam", "upload"], type="filepath",
                                              label="Face photo (webcam or upload)", elem_id="face-photo")
                        face_video = gr.Video(sources=["upload", "webcam"], format=None,
                                              label="or a short face video (used when given)", elem_id="face-video")
                with gr.Group(visible=False) as timeline_group:
                    timeline = gr.Dataframe(value=TIMELINE_EXAMPLE, headers=TIMELINE_COLUMNS,
                                            datatype=["number", "str", "number", "str"], type="array",
                                            row_count=(2, "dynamic"), col_count=(4, "fixed"), interactive=True,
                                            label="Emotion over time: from each time on (seconds), this emotion "
                                                  "(eased in over the second before it); words win over the label",
                                            elem_id="timeline")
                with gr.Accordion("Blend with a second emotion", open=False):
                    blend_weight = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Weight of the second emotion "
                                             "(0 = off)", elem_id="blend-weight")
                    blend_kind = gr.Radio(list(BLEND_SOURCES), value="Emotion label", label="Second emotion from")
                    with gr.Row():
                        blend_emotion = gr.Dropdown(list(EMOTIONS), value="surprised", label="Second emotion")
                        blend_intensity = gr.Radio([1, 2, 3], value=2, label="Intensity")
                    blend_text = gr.Textbox(label="Describe the second emotion", visible=False, max_length=300)
                guidance = gr.Slider(0.5, 3.0, value=DEFAULT_GUIDANCE, step=0.1,
                                     label="Emotion guidance (diffusion weight)", info="Higher follows the chosen emotion more strongly", elem_id="guidance")
                with gr.Row():
                    steps = gr.Slider(1, 100, value=DEFAULT_STEPS, step=1, label="Sampling steps", elem_id="steps")
                    seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1, label="Seed", elem_id="seed")
                avatar = gr.Dropdown(list(AVATARS), value=DEFAULT_AVATAR, label="Avatar", elem_id="avatar")
                face = gr.Radio([ARKIT_FACE, FLAME_FACE], value=ARKIT_FACE, label="Face in the video",
                                info="FLAME: the take retargeted onto your FLAME model, also as a FLAME sequence",
                                visible=flame_available, elem_id="face")
                transcript = gr.Textbox(label="Transcript (optional)", max_length=MAX_TRANSCRIPT_CHARS, lines=2,
                                        placeholder="What is said, word for word. Empty: the speech is recognised.",
                                        info="The lips follow these words; give them for non-English or unclear audio",
                                        elem_id="transcript")
                with gr.Row():
                    run = gr.Button("Generate", variant="primary", elem_id="generate")
                    new_take = gr.Button("New take (new seed)", elem_id="new-take")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Column(scale=1):
                video = gr.Video(label="Talking head", format=None, autoplay=True, elem_id="result-video")
                info = gr.Markdown(label="Summary", show_label=False, elem_id="info")
                with gr.Row():
                    npz_file = gr.File(label="Motion (.npz)", elem_id="motion-npz")
                    csv_file = gr.File(label="ARKit curves (Live Link Face .csv)", elem_id="motion-csv")
                    glb_file = gr.File(label="3D take (.glb: Blender, three.js, Unity)", elem_id="take-glb")
                preview = gr.Model3D(label="3D preview (drag to turn)", elem_id="preview-3d", camera_position=(90, 90, 0.6))
                plot = gr.Image(label="Main curves", type="filepath", elem_id="curves")
                flame_file = gr.File(label="FLAME sequence (.npz: exp, jaw, neck, global, eyes)", elem_id="flame-npz",
                                     visible=flame_available)

        inputs = [audio, source_kind, emotion, intensity, text, ref_audio, ref_motion, blend_weight, blend_kind,
                  blend_emotion, blend_intensity, blend_text, guidance, steps, seed, avatar, transcript, timeline,
                  face_photo, face_video, face]
        outputs = [video, npz_file, csv_file, glb_file, preview, plot, flame_file, info]
        source_kind.change(show_source, source_kind, [label_group, text_group, audio_group, motion_group,
                                                      face_group, timeline_group],
                           api_visibility="private", queue=False)
        for event in (text.submit, text.blur):
            event(read_text, text, text_reading, api_visibility="private")
        blend_kind.change(show_blend_source, blend_kind, [blend_emotion, blend_text], api_visibility="private",
                          queue=False)
        made = run.click(generate, inputs, outputs, api_name="generate", concurrency_id="generate",
                  api_description="Voice clip + emotion -> talking-head MP4, motion .npz, Live Link Face .csv, "
                                  "take .glb, its 3D preview, curves plot, FLAME sequence .npz (face='FLAME (your model)', "
                                  "when the server has EMOANIM_FLAME_MODEL), summary")
        remade = new_take.click(lambda: random.randrange(2**31), None, seed, api_visibility="private",
                                queue=False).then(generate, inputs, outputs, api_visibility="private",
                                                  concurrency_id="generate")
        stop.click(None, None, None, cancels=[made, remade], api_visibility="private", queue=False)
        demo.unload(leave)
        if examples and ASSETS.is_dir():
            rows = [[str(ASSETS / clip), *rest] for clip, *rest in EXAMPLES if (ASSETS / clip).exists()]
            if rows:
                gr.Examples(rows, [audio, source_kind, emotion, intensity, text], label="Examples (bundled clips)",
                            cache_examples=False)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    demo.emoanim_outputs = outputs_root  # (the per-request folders: tests and benchmarks check their cleanup)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    # A stop by SIGTERM (containers, Spaces) exits normally, so the per-request folders are deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        settings = Settings.from_env()
        outputs = Outputs(settings.keep_results_s, settings.results_dir)
    except EmoAnimError as exc:
        sys.exit(f"error: {exc}")
    # Gradio's copies of the uploads go in this process's results folder too: a killed server's are
    # deleted with its takes at the next start (Gradio itself removes them only at a clean stop).
    os.environ["GRADIO_TEMP_DIR"] = str(outputs.root / "uploads")
    get = _Lazy(lambda: load_animator(settings))
    get().space.read_text("calm")  # load the models (and the text encoder) before serving: no first-visitor wait
    build_demo(get, settings=settings, outputs=outputs).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
        allowed_paths=[str(ASSETS), str(outputs.root)],  # (the results folder may lie outside the temp folder)
        max_file_size=f"{settings.max_upload_mb:g}mb")


if __name__ == "__main__":
    main()

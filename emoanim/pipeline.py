"""Speech + an emotion -> facial motion -> MP4: the one pipeline behind the app, the CLI and the API.

>>> from emoanim.pipeline import Animator, EmotionSource
>>> animator = Animator.from_pretrained("checkpoints")            # CUDA when present, else CPU
>>> result = animator.generate("speech.wav", EmotionSource.label("happy", 3), "talk.mp4")
>>> animator.export(result.motion, "out/")                        # .npz, Live Link Face .csv, curves .png

Stages: reading audio (any format, resampled to 16 kHz mono, rejected when silent, unreadable or
too long), embedding the emotion (a label, free text, a reference speech clip, a reference motion,
or the emotion heard in the input speech itself; optionally blended with a second source, or a
timeline of keyframes ``[(seconds, EmotionSource), ...]`` whose emotion changes within the take), encoding
the speech content, sampling the motion with classifier-free guidance, rendering frames and
encoding the MP4 with the audio. ``progress(fraction, stage)`` is told about each of them.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Sequence, Union

import numpy as np

from emoanim.audio.io import all_finite, is_silent, load_audio
from emoanim.binding.timeline import style_track
from emoanim.errors import EmoAnimError
from emoanim.memory import release_free_memory
from emoanim.motion import Motion, export_csv, export_glb, load_motion_file
from emoanim.motion.plots import plot_curves
from emoanim.motion.flame_sequence import FlameSequence
from emoanim.render.clip import render_video
from emoanim.render.renderer import RGB, RenderConfig, check_color, preload_gl
from emoanim.render.video import check_frame_size, check_output_path
from emoanim.rigs import FaceRig, load_rig
from emoanim.rigs.arkit import AVATARS, DEFAULT_AVATAR
from emoanim.rigs.retarget import ArkitToFlame, arkit_to_flame
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import (
    CHECKPOINTS_DIR,
    CONTENT_ENCODER_DIR,
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    EMOTION_SPACE_DIR,
    GENERATOR_DIR,
    MUX_SAMPLE_RATE,
    SAMPLE_RATE,
    Sampling,
    check_sampling,
)

if TYPE_CHECKING:
    from emoanim.audio.content import ContentInfo
    from emoanim.binding.space import Reading

MIN_SECONDS = 0.5  # the emotion encoder's shortest input
SOURCE_KINDS = ("label", "text", "audio", "motion", "face", "auto")
RENDERED_RIG = "arkit"  # the rig the pipeline renders (FLAME needs its licensed model file: use the CLI)

ProgressFn = Callable[[float, str], None]  # (fraction done 0..1, stage description)
SourceKind = Literal["label", "text", "audio", "motion", "face", "auto"]


# --------------------------------------------------------------------------------------------
# Configuration and inputs
# --------------------------------------------------------------------------------------------


@dataclass
class AnimatorConfig:
    """Limits and defaults of an ``Animator`` (checked when made). Calls that pass None use these."""

    max_seconds: float = 60.0  # longest input (and reference) speech accepted
    device: str = "cpu"  # where the content encoder and generator run
    avatar: str | None = None  # default Anny identity (None = the rig's default, 'alex')
    size: int = 512  # default video width and height, pixels
    guidance: float = DEFAULT_GUIDANCE  # classifier-free guidance weight
    steps: int = DEFAULT_STEPS  # sampling steps
    sampler: str = DEFAULT_SAMPLER  # "ddim" or "ddpm"
    background: RGB | None = None  # video background, RGB in [0, 1]; None = RenderConfig's
    flame_model: Path | None = None  # a FLAME model file (.pkl/.npz, the user's): takes can come out as FLAME
    flame_expressions: int = 50  # expression coefficients of FLAME sequences (50 or 100)

    def __post_init__(self) -> None:
        if not (self.max_seconds > 0 and math.isfinite(self.max_seconds)):
            raise EmoAnimError(f"max_seconds must be a positive number, got {self.max_seconds}")
        check_frame_size(self.size, self.size)
        check_avatar(self.avatar)
        check_sampling(self.guidance, self.steps, 0, self.sampler)
        if self.background is not None:
            self.background = check_color(self.background)
        if self.flame_model is not None:
            self.flame_model = Path(self.flame_model).expanduser()
            if not self.flame_model.is_file():
                raise EmoAnimError(f"FLAME model file not found: {self.flame_model} (get FLAME from "
                                   "flame.is.tue.mpg.de and pass its generic_model.pkl or FLAME 2023 Open file)")
        if self.flame_expressions not in (50, 100):
            raise EmoAnimError(f"FLAME sequences have 50 or 100 expressions, not {self.flame_expressions}")


@dataclass
class EmotionSource:
    """Where the emotion comes from.

    ``kind``: ``label`` (``emotion`` + ``intensity`` 1-3), ``text`` (free text), ``audio`` (a
    speech file whose mood to borrow, ``path``), ``motion`` (a reference motion file ``path``:
    .npz, Live Link Face .csv or .json), ``face`` (a video or photo of a face, ``path``, tracked into a
    reference motion) or ``auto`` (the emotion heard in the input speech).
    """

    kind: SourceKind = "label"
    emotion: str | None = None
    intensity: int = 2
    text: str | None = None
    path: str | Path | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise EmoAnimError(f"unknown emotion source '{self.kind}'; choose one of: {', '.join(SOURCE_KINDS)}")

    # Readable constructors for the Python API.
    @classmethod
    def label(cls, emotion: str, intensity: int = 2) -> "EmotionSource":
        return cls("label", emotion=emotion, intensity=intensity)

    @classmethod
    def from_text(cls, text: str) -> "EmotionSource":
        return cls("text", text=text)

    @classmethod
    def from_audio(cls, path: str | Path) -> "EmotionSource":
        return cls("audio", path=path)

    @classmethod
    def from_motion(cls, path: str | Path) -> "EmotionSource":
        return cls("motion", path=path)

    @classmethod
    def from_face(cls, path: str | Path) -> "EmotionSource":
        return cls("face", path=path)

    @classmethod
    def auto(cls) -> "EmotionSource":
        return cls("auto")

    def describe(self) -> str:
        if self.kind == "label":
            return f"{self.emotion} (intensity {self.intensity})"
        if self.kind == "text":
            return f"text {self.text!r}"
        if self.kind in ("audio", "motion", "face"):
            return f"{self.kind} {Path(self.path).name if self.path else '?'}"
        return "auto (from the input speech)"


Blend = tuple[EmotionSource, float]  # (second source, its weight 0..1); the first gets 1 - weight
Keyframe = tuple[float, EmotionSource]  # (seconds from the start, the emotion from then on)
Emotion = Union[EmotionSource, Sequence[Keyframe]]  # one emotion for the take, or a timeline of keyframes
MAX_KEYFRAMES = 64


def parse_keyframe(spec: str) -> Keyframe:
    """'TIME:LABEL[:INTENSITY]', 'TIME:text:WORDS', 'TIME:audio:PATH', 'TIME:motion:PATH', 'TIME:face:PATH'
    or 'TIME:auto' (the CLI's ``--emotion-at``) -> (seconds, EmotionSource)."""
    time_text, _, rest = str(spec).partition(":")
    try:
        seconds = float(time_text.strip().rstrip("s"))
    except ValueError:
        raise EmoAnimError(f"a keyframe starts with its time in seconds, e.g. '5:sad:3', got '{spec}'") from None
    kind, _, value = rest.partition(":")
    kind = kind.strip()
    if kind == "text":
        return seconds, EmotionSource.from_text(value)
    if kind in ("audio", "motion", "face"):
        if not value.strip():
            raise EmoAnimError(f"keyframe '{spec}': give the {kind} file after '{kind}:'")
        return seconds, EmotionSource(kind, path=value.strip())
    if kind == "auto" and not value:
        return seconds, EmotionSource.auto()
    if not kind:
        raise EmoAnimError(f"keyframe '{spec}': give an emotion after the time, e.g. '{time_text}:happy:3'")
    try:
        intensity = int(value) if value.strip() else 2
    except ValueError:
        raise EmoAnimError(f"keyframe '{spec}': the intensity is 1, 2 or 3, got '{value}' (free text: "
                           f"'{time_text}:text:{value or 'WORDS'}')") from None
    return seconds, EmotionSource.label(kind, intensity)


def check_timeline(keyframes: Sequence[Keyframe], duration: float | None = None) -> list[Keyframe]:
    """A timeline as a sorted list of (seconds, EmotionSource), checked: at least one keyframe, times
    0 or more, unique and (when ``duration`` is given) within the speech."""
    try:
        keys = [(float(t), source) for t, source in keyframes]
    except (TypeError, ValueError):
        raise EmoAnimError("an emotion timeline is a list of (seconds, EmotionSource) keyframes") from None
    if not keys:
        raise EmoAnimError("the emotion timeline is empty: give at least one (seconds, EmotionSource) keyframe")
    if len(keys) > MAX_KEYFRAMES:
        raise EmoAnimError(f"too many keyframes ({len(keys)}); at most {MAX_KEYFRAMES}")
    for t, source in keys:
        if not isinstance(source, EmotionSource):
            raise EmoAnimError(f"keyframe at {t:g} s: the emotion must be an EmotionSource, got {type(source).__name__}")
        if not (math.isfinite(t) and t >= 0):
            raise EmoAnimError(f"keyframe times are seconds from the start (0 or more), got {t:g}")
        if duration is not None and t >= duration:
            raise EmoAnimError(f"the keyframe at {t:g} s is after the end of the speech ({duration:.2f} s)")
    keys.sort(key=lambda k: k[0])
    times = [t for t, _ in keys]
    if len(set(times)) != len(times):
        raise EmoAnimError("two keyframes are at the same time; give each time one emotion")
    return keys


def describe_emotion(emotion: Emotion) -> str:
    """One line for the emotion of a take: the source, or the timeline's keyframes."""
    if isinstance(emotion, EmotionSource):
        return emotion.describe()
    return "timeline " + " → ".join(f"{t:g} s {s.describe()}" for t, s in check_timeline(emotion))


@dataclass
class Exports:
    npz: Path
    csv: Path | None
    plot: Path
    glb: Path | None = None  # the take on the avatar's head as glTF (arkit only)


@dataclass
class Result:
    motion: Motion
    video: Path | None
    style: np.ndarray  # the emotion embedding the motion was sampled with: [E], or [T, E] for a timeline
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    sampling: Sampling | None = None  # the settings the motion was sampled with
    content_info: ContentInfo | None = None  # where the lips came from: route, text (.describe() for a line)
    readings: list[str] = field(default_factory=list)  # what each read source (words, a voice) was read as
    flame: FlameSequence | None = None  # the take as a FLAME sequence (when asked for with face="flame")


def _noted(reading: Reading, notes: list[str] | None) -> np.ndarray:
    """A reading's vector, its line added to ``notes``."""
    if notes is not None:
        notes.append(reading.describe())
    return reading.vector


def check_avatar(avatar: str | None) -> str | None:
    if avatar is not None and avatar not in AVATARS:
        raise EmoAnimError(f"unknown avatar '{avatar}'; choose one of: {', '.join(AVATARS)}")
    return avatar


MAX_TRANSCRIPT_CHARS = 20_000  # about 50 minutes of speech: far more than any clip the app accepts


def check_transcript(text: str | None) -> str | None:
    """A user's transcript (what is said) -> clean text, or None for "recognise it"; clear errors."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise EmoAnimError(f"the transcript must be text, got {type(text).__name__}")
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())  # no control characters
    if not text:
        return None  # an empty box means "recognise the speech"
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise EmoAnimError(f"the transcript is {len(text)} characters long; the limit is {MAX_TRANSCRIPT_CHARS}: "
                           "give the words of this clip only")
    return text


def check_speech(wave: np.ndarray, what: str, max_seconds: float, own: bool = False) -> np.ndarray:
    """The one check of input speech (16 kHz, from a file or an array) -> float32 [N] in [-1, 1].
    ``own``: ``wave`` is ours (decoded from a file), so it is clipped in place: an hour of speech is
    230 MB, and a clipped copy would hold it twice."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise EmoAnimError(f"{what} must be a non-empty mono 16 kHz array [N], got shape {list(wave.shape)}")
    if not all_finite(wave):
        raise EmoAnimError(f"{what} contains NaN or infinite samples")
    seconds = wave.size / SAMPLE_RATE
    if seconds > max_seconds + 0.05:
        raise EmoAnimError(f"{what} is {seconds:.1f} s long, but the limit is {max_seconds:g} s: trim it")
    if seconds < MIN_SECONDS:
        raise EmoAnimError(f"{what} is too short ({seconds:.2f} s): give at least {MIN_SECONDS:g} s")
    if is_silent(wave):
        raise EmoAnimError(f"{what} is silent (below -50 dBFS): record or upload a clip with speech in it")
    return np.clip(wave, -1.0, 1.0, out=wave if own and wave.flags.writeable else None)


def check_renderable(rig: str) -> None:
    if rig != RENDERED_RIG:
        raise EmoAnimError(f"the pipeline renders '{RENDERED_RIG}' motion, not '{rig}': export the motion and use "
                           f"`python -m emoanim render --rig {rig}`")


def check_output(path: str | Path, suffix: str) -> Path:
    """An output file's suffix and place, checked before the slow parts."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise EmoAnimError(f"the output {path} should end in {suffix}")
    return check_output_path(path)


def default_device() -> str:
    import torch  # lazy: start-up time

    return "cuda" if torch.cuda.is_available() else "cpu"


# --------------------------------------------------------------------------------------------
# Progress and timing
# --------------------------------------------------------------------------------------------


class _Stages:
    """Maps each stage onto its share of [0, 1] for ``progress`` and records seconds per stage."""

    def __init__(self, progress: ProgressFn | None, timings: dict[str, float] | None,
                 span: tuple[float, float] = (0.0, 1.0)) -> None:
        self.progress = progress
        self.timings = timings if timings is not None else {}
        self.span = span
        self._stage: str | None = None
        self._t0 = 0.0

    def sub(self, start: float, end: float) -> "_Stages":
        """The same reporter restricted to [start, end] of this one's span."""
        a, b = self.span
        return _Stages(self.progress, self.timings, (a + (b - a) * start, a + (b - a) * end))

    def report(self, fraction: float, text: str) -> None:
        if self.progress is not None:
            a, b = self.span
            self.progress(float(min(1.0, max(0.0, a + (b - a) * fraction))), text)

    def start(self, name: str, fraction: float, text: str | None = None) -> None:
        self.stop()
        release_free_memory()  # what the last stage freed: memory stays flat in the clip's length
        self._stage, self._t0 = name, time.perf_counter()
        self.report(fraction, text or name)

    def stop(self) -> None:
        if self._stage is not None:
            self.timings[self._stage] = self.timings.get(self._stage, 0.0) + time.perf_counter() - self._t0
            self._stage = None


def _in_background(work: Callable[[], object], name: str) -> threading.Thread:
    """Run ``work`` (loading ahead of need) in a daemon thread. A failure there is dropped: the step that
    needs the work does it again and reports what is wrong."""
    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - see above
            pass

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


class Animator:
    """Composes audio loading, emotion embedding, content encoding, sampling, rendering and muxing.

    ``space`` is an ``EmotionSpace``, ``content_encoder`` a ``ContentEncoder`` (16 kHz wave ->
    [Ta, C] features at 50/s), ``generator`` a ``MotionGenerator`` (content + emotion -> motion).
    Safe to share between threads: models only run inference, and rendering is serialised.
    """

    def __init__(self, space, content_encoder, generator, config: AnimatorConfig | None = None) -> None:
        self.space = space
        self.content_encoder = content_encoder
        self.generator = generator
        self.config = config or AnimatorConfig()
        if getattr(space, "rig", generator.rig) != generator.rig:
            raise EmoAnimError(
                f"the emotion space reads '{space.rig}' motion but the generator makes '{generator.rig}'")
        self._rigs: dict[str, FaceRig] = {}
        self._rig_lock = threading.Lock()
        self._flame_rig: FaceRig | None = None  # the user's FLAME model, and the ARKit -> FLAME map, once each
        self._flame_map: ArkitToFlame | None = None
        self._flame_lock = threading.RLock()
        self._render_lock = threading.Lock()  # one GL context at a time

    @classmethod
    def from_pretrained(cls, folder: str | Path = CHECKPOINTS_DIR, device: str | None = None,
                        config: AnimatorConfig | None = None, warm_up: bool = False) -> "Animator":
        """Load the emotion space, content encoder and generator in ``folder`` (vocabulary's *_DIR).
        ``warm_up``: a take of speech without a transcript is coming (the CLI, the app): the content
        encoder's own first-use loads (the speech recogniser, the aligner) start now, in a thread, while
        the other models load (~0.3 s off a first take on 2 cores)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise EmoAnimError(f"checkpoint folder not found: {folder}")
        device = device or default_device()
        if device.startswith("cuda"):
            import torch  # lazy: start-up time

            if not torch.cuda.is_available():
                raise EmoAnimError("--device cuda was asked for, but no CUDA GPU is available: use --device cpu")
        elif device != "cpu":
            raise EmoAnimError(f"unknown device '{device}'; use cpu or cuda")
        for part in (EMOTION_SPACE_DIR, CONTENT_ENCODER_DIR, GENERATOR_DIR):
            if not (folder / part).is_dir():
                raise EmoAnimError(
                    f"no {part.replace('_', ' ')} checkpoint in {folder / part}: see checkpoints/README.md")
        # lazy: start-up time (torch); the front-ends import this module to parse their options
        from emoanim.audio.content import load_content_encoder
        from emoanim.binding.space import EmotionSpace
        from emoanim.diffusion import MotionGenerator

        config = config or AnimatorConfig()
        config.device = device
        content = load_content_encoder(folder / CONTENT_ENCODER_DIR, device=device)  # ours, or a HuBERT folder
        if warm_up and hasattr(content, "warm_up"):
            _in_background(content.warm_up, "emoanim-content-warm-up")
        space = EmotionSpace.from_pretrained(folder / EMOTION_SPACE_DIR)
        generator = MotionGenerator.from_pretrained(folder / GENERATOR_DIR, device=device)
        return cls(space, content, generator, config)

    # ---- stage 1: audio ----------------------------------------------------------------------

    def read_audio(self, audio: str | Path | np.ndarray, what: str = "the speech") -> np.ndarray:
        """A file (any format, rate, channel count) or a 16 kHz mono array -> float32 [N] at 16 kHz."""
        if audio is None:
            raise EmoAnimError(f"no audio given for {what}: upload or record a voice clip")
        own = isinstance(audio, (str, Path))
        if own:
            audio = load_audio(audio, SAMPLE_RATE, max_seconds=self.config.max_seconds)
        return check_speech(audio, what, self.config.max_seconds, own)

    # ---- stage 2: emotion --------------------------------------------------------------------

    def load_reference_motion(self, path: str | Path) -> Motion:
        """A reference motion file of this model's rig: .npz (never unpickled), Live Link Face .csv or .json."""
        if path is None:
            raise EmoAnimError("no reference motion file given: upload a .npz, .csv or .json motion")
        return load_motion_file(path, expect_rig=self.generator.rig)

    def embed_source(self, source: EmotionSource, speech: np.ndarray | None = None,
                     notes: list[str] | None = None) -> np.ndarray:
        """One emotion source -> unit vector. ``speech`` (16 kHz) is the input, for ``auto``. ``notes``: gets
        one line per source that is read rather than given (words, a voice): what it was read as."""
        if not isinstance(source, EmotionSource):
            raise EmoAnimError(f"the emotion source must be an EmotionSource, got {type(source).__name__}")
        if source.kind == "label":
            if not source.emotion:
                raise EmoAnimError("pick an emotion")
            return self.space.embed(emotion=source.emotion, intensity=source.intensity)
        if source.kind == "text":  # (read_text refuses empty text)
            return _noted(self.space.read_text("" if source.text is None else str(source.text)), notes)
        if source.kind == "audio":
            if source.path is None:
                raise EmoAnimError("no reference audio given: upload a speech clip whose emotion to borrow")
            wave = self.read_audio(source.path, "the emotion reference audio")
            return _noted(self.space.read_audio(wave, f"the voice of {Path(source.path).name}"), notes)
        if source.kind == "motion":
            return self.space.embed(motion=self.load_reference_motion(source.path))
        if source.kind == "face":
            if source.path is None:
                raise EmoAnimError("no face given: upload a video or photo of the face whose emotion to borrow")
            from emoanim.face.tracking import TrackConfig, track_face  # lazy: MediaPipe start-up

            return self.space.embed(motion=track_face(source.path, TrackConfig(max_seconds=self.config.max_seconds)))
        if speech is None:
            raise EmoAnimError("the 'auto' emotion needs the input speech")
        return _noted(self.space.read_audio(speech, "the input speech"), notes)

    def embed_emotion(self, source: EmotionSource, blend: Blend | None = None,
                      speech: np.ndarray | None = None, notes: list[str] | None = None) -> np.ndarray:
        """The emotion embedding: one source, or ``(1 - w) * source + w * blend_source``."""
        z = self.embed_source(source, speech, notes)
        if blend is None:
            return z
        other, weight = blend
        weight = float(weight)
        if not 0.0 <= weight <= 1.0:
            raise EmoAnimError(f"the blend weight must be between 0 and 1, got {weight:g}")
        if weight == 0.0:
            return z
        return self.space.blend([(z, 1.0 - weight), (self.embed_source(other, speech, notes), weight)])

    # ---- stage 3: motion ---------------------------------------------------------------------

    def sampling(self, guidance: float | None = None, steps: int | None = None, seed: int = 0,
                 sampler: str | None = None) -> Sampling:
        """The checked sampling settings of a call: each None is this animator's config value."""
        c = self.config
        return check_sampling(c.guidance if guidance is None else guidance, c.steps if steps is None else steps,
                              seed, c.sampler if sampler is None else sampler, self.generator.max_steps)

    def animate(self, audio: str | Path | np.ndarray, source: Emotion, guidance: float | None = None,
                steps: int | None = None, seed: int = 0, blend: Blend | None = None,
                progress: ProgressFn | None = None, timings: dict[str, float] | None = None,
                sampler: str | None = None, transcript: str | None = None) -> Motion:
        """Speech (file or 16 kHz array) + emotion -> ``Motion`` lasting as long as the speech.
        ``source``: an EmotionSource, or a timeline [(seconds, EmotionSource), ...] (``style_track``).
        ``transcript``: what is said, if known (skips speech recognition)."""
        sampling = self.sampling(guidance, steps, seed, sampler)
        motion, *_ = self._animate(audio, source, sampling, blend, _Stages(progress, timings),
                                     check_transcript(transcript))
        return motion

    def embed_timeline(self, keyframes: Sequence[Keyframe], num_frames: int, speech: np.ndarray | None = None,
                       transition_s: float | None = None, notes: list[str] | None = None) -> np.ndarray:
        """A timeline -> the style of every frame [num_frames, E] (``binding.timeline.style_track``)."""
        fps = self.generator.fps
        duration = num_frames / fps if speech is None else speech.size / SAMPLE_RATE
        keys = check_timeline(keyframes, duration)
        vectors = [(t, self.embed_source(source, speech, notes)) for t, source in keys]
        return style_track(vectors, num_frames, fps, **({} if transition_s is None else
                                                        {"transition_s": transition_s}))

    def _animate(self, audio, source: Emotion, sampling: Sampling, blend: Blend | None,
                 stages: _Stages, transcript: str | None = None,
                 notes: list[str] | None = None) -> tuple[Motion, np.ndarray, ContentInfo, float]:
        stages.start("audio read", 0.0, "reading audio")
        wave = self.read_audio(audio)
        num_frames = frames_for_duration(wave.size / SAMPLE_RATE, self.generator.fps)
        stages.start("emotion embed", 0.04, "embedding emotion")
        if isinstance(source, EmotionSource):
            style = self.embed_emotion(source, blend, wave, notes)
        elif blend is not None:
            raise EmoAnimError("a blend and an emotion timeline cannot be combined: put the second emotion in a "
                               "keyframe")
        else:
            style = self.embed_timeline(source, num_frames, wave, notes=notes)
        stages.start("content encode", 0.08, "aligning the transcript" if transcript else "reading what is said")
        from emoanim.audio.content import encode_content  # lazy: start-up time (torch)

        def on_piece(done: int, total: int) -> None:
            stages.report(0.08 + 0.04 * done / total, f"reading what is said: piece {done}/{total}")

        content, content_info = encode_content(self.content_encoder, wave, transcript, on_piece)
        stages.start("sampling", 0.12, f"sampling step 0/{sampling.steps}")

        def on_step(done: int, total: int) -> None:
            stages.report(0.12 + 0.88 * done / max(total, 1), f"sampling step {done}/{total}")

        params = self.generator.sample(content, style, num_frames, guidance=sampling.guidance, steps=sampling.steps,
                                       sampler=sampling.sampler, seed=sampling.seed, callback=on_step)
        stages.stop()
        params = np.asarray(params, np.float32)
        expected = (num_frames, len(self.generator.param_names))
        if params.shape != expected:
            raise RuntimeError(f"the generator returned {params.shape}, expected {expected}")
        stages.report(1.0, "motion ready")
        motion = Motion(params, tuple(self.generator.param_names), self.generator.fps, self.generator.rig)
        return motion, style, content_info, wave.size / SAMPLE_RATE

    # ---- stage 4: video ----------------------------------------------------------------------

    def rig(self, avatar: str | None = None) -> FaceRig:
        """The face rig the pipeline renders, for ``avatar`` (built once, then cached)."""
        avatar = check_avatar(avatar or self.config.avatar) or DEFAULT_AVATAR
        with self._rig_lock:
            if avatar not in self._rigs:
                self._rigs[avatar] = load_rig(RENDERED_RIG, avatar=avatar)
            return self._rigs[avatar]

    def flame_rig(self) -> FaceRig:
        """The FLAME rig of ``config.flame_model`` (built once)."""
        if self.config.flame_model is None:
            raise EmoAnimError("no FLAME model given: pass --flame-model PATH (or set EMOANIM_FLAME_MODEL, or "
                               "AnimatorConfig(flame_model=...)); FLAME comes from flame.is.tue.mpg.de")
        with self._flame_lock:
            if self._flame_rig is None:
                self._flame_rig = load_rig("flame", flame_model=self.config.flame_model,
                                           num_expressions=self.config.flame_expressions)
            return self._flame_rig

    def flame_map(self) -> ArkitToFlame:
        """The ARKit -> FLAME map fitted for ``config.flame_model`` (read from beside the model file, or
        fitted there once)."""
        rig = self.flame_rig()
        with self._flame_lock:
            if self._flame_map is None:
                self._flame_map = arkit_to_flame(rig, lambda: self.rig(DEFAULT_AVATAR))
            return self._flame_map

    def to_flame(self, motion: Motion) -> FlameSequence:
        """A take as a FLAME sequence (expressions, jaw, neck, eyes) on the user's FLAME model: an ARKit
        take retargeted (``rigs.retarget``), a FLAME take (a generator trained on FLAME data) as it is."""
        rig = self.flame_rig()
        if motion.rig == "flame":  # (a 50-expression take on a 100-expression model: the rest at 0)
            params = motion.for_rig(rig.num_expressions, fill_missing=True).params
            return FlameSequence.from_params(params, rig.num_expressions, motion.fps)
        check_renderable(motion.rig)
        return FlameSequence.from_params(self.flame_map()(motion.for_rig().params), rig.num_expressions, motion.fps)

    def _prepare_render(self, avatar: str | None, flame: bool = False) -> threading.Thread:
        """Build the avatar's rig (or the FLAME one) and load the renderer in a thread while the motion is
        made (~1 s of a first take's start-up, off its critical path: recognition runs in native code
        meanwhile). A failure here is left for ``_render`` to meet and report."""
        def work() -> None:
            self.flame_rig() if flame else self.rig(avatar)
            preload_gl()

        return _in_background(work, "emoanim-render-prep")

    def render_config(self, size: int | None = None) -> RenderConfig:
        """How this animator's videos look: ``size`` (None = the config's) and the config's background."""
        background = self.config.background
        return RenderConfig.square(self.config.size if size is None else size,
                                   **({} if background is None else {"background": background}))

    def render(self, motion: Motion, audio: str | Path | np.ndarray | None, out_mp4: str | Path,
               avatar: str | None = None, size: int | None = None, progress: ProgressFn | None = None,
               timings: dict[str, float] | None = None) -> Path:
        """Render ``motion`` on an avatar to an H.264/AAC MP4 with ``audio`` (a file, or 16 kHz array)."""
        return self._render(motion, audio, out_mp4, avatar, self.render_config(size), _Stages(progress, timings))

    def _render(self, motion: Motion | FlameSequence, audio, out_mp4, avatar, config: RenderConfig,
                stages: _Stages, audio_seconds: float | None = None) -> Path:
        """A take (ARKit or FLAME) to an MP4 with ``audio``. ``audio_seconds``: the speech's length when
        ``audio`` is the file the motion was made from: ffmpeg then takes the sound from the file itself
        (no 48 kHz copy of a long clip in memory)."""
        if isinstance(motion, Motion) and motion.rig == "flame":
            motion = self.to_flame(motion)
        if isinstance(motion, FlameSequence):
            rig, params = self.flame_rig(), motion.params()
        else:
            check_renderable(motion.rig)
            rig, params = self.rig(avatar), motion.for_rig().params
        audio_file = None
        if audio is None:
            wave, rate = None, MUX_SAMPLE_RATE
        elif isinstance(audio, (str, Path)) and audio_seconds is not None:
            wave, rate, audio_file = None, MUX_SAMPLE_RATE, Path(audio)
        elif isinstance(audio, (str, Path)):
            wave, rate = load_audio(audio, MUX_SAMPLE_RATE, max_seconds=self.config.max_seconds), MUX_SAMPLE_RATE
        else:
            wave, rate = np.asarray(audio, np.float32), SAMPLE_RATE  # ffmpeg resamples to 48 kHz for AAC

        def on_frame(done: int, total: int) -> None:
            if done == 1 or done == total or done % 5 == 0:
                stages.report(0.95 * done / total, f"rendering frame {done}/{total}")
            if done == total:
                stages.start("encoding/mux", 0.95, "encoding video")

        with self._render_lock:
            stages.start("rendering", 0.0, "rendering frames")
            try:
                out = render_video(rig, params, motion.fps, out_mp4, audio=wave, sample_rate=rate,
                                   config=config, progress=on_frame, audio_file=audio_file,
                                   audio_seconds=audio_seconds)
            finally:
                stages.stop()
        stages.report(1.0, "done")
        return Path(out)

    # ---- everything --------------------------------------------------------------------------

    def generate(self, audio: str | Path | np.ndarray, source: Emotion, out_mp4: str | Path | None,
                 *, motion_out: str | Path | None = None, guidance: float | None = None, steps: int | None = None,
                 seed: int = 0, blend: Blend | None = None, avatar: str | None = None, size: int | None = None,
                 progress: ProgressFn | None = None, sampler: str | None = None,
                 transcript: str | None = None, face: str = RENDERED_RIG,
                 flame_out: str | Path | None = None) -> Result:
        """``animate`` then ``render`` (skipped when ``out_mp4`` is None); optionally save the motion.
        ``transcript``: what is said, if known (skips speech recognition). ``face="flame"``: the take also
        becomes a FLAME sequence (``Result.flame``, saved to ``flame_out``) and the video shows FLAME."""
        # Everything that can be checked is checked before the slow parts.
        sampling = self.sampling(guidance, steps, seed, sampler)
        if not isinstance(source, EmotionSource):
            check_timeline(source)
        transcript = check_transcript(transcript)
        config = self.render_config(size)
        native = self.generator.rig == "flame"  # a generator trained on FLAME data: its takes are FLAME
        face = "flame" if native else face
        if out_mp4 is not None:
            check_output(out_mp4, ".mp4")
            if not native:
                check_renderable(self.generator.rig)
            check_avatar(avatar)
        if motion_out is not None:
            check_output(motion_out, ".npz")
        if face not in (RENDERED_RIG, "flame"):
            raise EmoAnimError(f"unknown face '{face}': choose {RENDERED_RIG} or flame")
        if face == "flame":  # the model, and for an ARKit generator its map, before the slow parts
            self.flame_rig()
            if not native:
                self.flame_map()
        if flame_out is not None:
            if face != "flame":
                raise EmoAnimError("a FLAME sequence needs the FLAME face: pass --rig flame with --flame-model")
            check_output(flame_out, ".npz")
        timings: dict[str, float] = {}
        stages = _Stages(progress, timings)
        share = 0.5 if out_mp4 is not None else 1.0
        readings: list[str] = []
        ahead = self._prepare_render(avatar, face == "flame") if out_mp4 is not None else None
        motion, style, content_info, seconds = self._animate(audio, source, sampling, blend, stages.sub(0.0, share),
                                                             transcript, readings)
        flame = self.to_flame(motion) if face == "flame" else None
        video = None
        if out_mp4 is not None:
            ahead.join()
            video = self._render(flame or motion, audio, out_mp4, avatar, config, stages.sub(share, 1.0), seconds)
        written: list[Path] = [] if video is None else [video]
        try:
            for thing, path in ((motion, motion_out), (flame, flame_out)):
                if path is not None:
                    written.append(Path(thing.save(path)))
        except BaseException:
            for path in written:  # all or nothing
                path.unlink(missing_ok=True)
            raise
        return Result(motion, video, style, timings, sampling, content_info, readings, flame)

    def export(self, motion: Motion, folder: str | Path, stem: str = "motion", avatar: str | None = None) -> Exports:
        """Write ``stem.npz``, ``stem_curves.png`` and, for arkit takes, ``stem.csv`` (Live Link Face) and
        ``stem.glb`` (the take on ``avatar``'s head: mesh, 52 ARKit morph targets, bones, animation)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        npz = motion.save(folder / f"{stem}.npz")
        arkit = motion.rig == "arkit"
        csv = export_csv(motion, folder / f"{stem}.csv") if arkit else None
        glb = export_glb(motion, folder / f"{stem}.glb", avatar or self.config.avatar) if arkit else None
        plot = plot_curves(motion, folder / f"{stem}_curves.png")
        return Exports(Path(npz), None if csv is None else Path(csv), Path(plot), glb)


__all__ = ["Animator", "AnimatorConfig", "EmotionSource", "Exports", "FlameSequence", "Result", "Sampling",
           "check_sampling",
           "check_transcript",
           "default_device"]

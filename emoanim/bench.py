"""Benchmarks (``python -m emoanim bench TARGET``): speed and memory, printed as a small report.

The speech timed by ``generate`` and ``e2e`` is ``--speech FILE`` when given, else the example clips
in ``./assets`` (a checkout of the repository), else a synthetic speech-like signal
(``synthetic_speech``: an installed package ships no clips). Each is repeated to ``--seconds``; the
report's ``speech`` row says which was used. Timings barely depend on what is said.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from emoanim.audio.io import load_audio, save_wav
from emoanim.errors import EmoAnimError
from emoanim.pipeline import Animator, AnimatorConfig, EmotionSource
from emoanim.render.clip import render_frames, render_video
from emoanim.render.renderer import FaceRenderer, RenderConfig
from emoanim.rigs import load_rig
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import CHECKPOINTS_DIR, MOTION_FPS, MUX_SAMPLE_RATE, SAMPLE_RATE

ASSETS_DIR = Path("assets")  # the example clips, relative to the working folder (like ``checkpoints``)
SPEECH_SUFFIXES = (".wav", ".ogg", ".mp3", ".flac")


def _rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def talking_motion(rig, seconds: float, fps: float = MOTION_FPS, seed: int = 0) -> np.ndarray:
    """A plausible moving face for timing: syllable-rate jaw, blinks, smile and head drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fps))) / fps
    params = np.tile(rig.neutral(), (len(t), 1))

    def set_curve(name: str, values: np.ndarray) -> None:
        if name in rig.param_names:
            params[:, rig.param_index(name)] = values

    set_curve("jawOpen", 0.35 * np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None))
    set_curve("mouthSmileLeft", 0.3 + 0.2 * np.sin(0.5 * t))
    set_curve("mouthSmileRight", 0.3 + 0.2 * np.sin(0.5 * t))
    blink = (np.sin(2 * np.pi * 0.35 * t) > 0.97).astype(np.float32)
    set_curve("eyeBlinkLeft", blink)
    set_curve("eyeBlinkRight", blink)
    set_curve("headYaw", 0.12 * np.sin(0.7 * t))
    set_curve("headPitch", 0.05 * np.sin(1.3 * t))
    return params


def bench_render(seconds: float = 20.0, size: int | None = None, avatar: str | None = None) -> dict[str, float]:
    """Render + encode a ``seconds`` clip with audio at ``size``^2; report frames/s and memory."""
    t0 = time.perf_counter()
    rig = load_rig("arkit", avatar=avatar)
    load_s = time.perf_counter() - t0
    fps = MOTION_FPS
    params = talking_motion(rig, seconds, fps)
    sample_rate = MUX_SAMPLE_RATE
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * sample_rate))).astype(np.float32)
    config = RenderConfig.square(size)

    t0 = time.perf_counter()
    rig.vertices(params)
    pose_s = time.perf_counter() - t0

    with FaceRenderer(rig, config) as renderer:  # rendering alone, no encoder
        t0 = time.perf_counter()
        frames = sum(1 for _ in render_frames(renderer, params))
        render_only_fps = frames / (time.perf_counter() - t0)

    rss: list[float] = []

    def sample_memory(done: int, total: int) -> None:
        if done % 25 == 0:
            rss.append(_rss_mib())

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = render_video(rig, params, fps, Path(tmp) / "bench.mp4", audio, sample_rate, config, sample_memory)
        total_s = time.perf_counter() - t0
        size_mib = out.stat().st_size / 2**20
    quarter = rss[len(rss) // 4]
    return {
        "clip_seconds": seconds,
        "frames": len(params),
        "size_px": config.width,
        "rig_load_s": load_s,
        "pose_ms_per_frame": 1000 * pose_s / len(params),
        "render_only_fps": render_only_fps,
        "end_to_end_fps": len(params) / total_s,
        "realtime_factor": seconds / total_s,
        "rss_at_25pct_mib": quarter,
        "rss_at_end_mib": rss[-1],
        "rss_growth_mib": rss[-1] - quarter,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mp4_mib": size_mib,
    }


def synthetic_speech(seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A speech-like signal without words, for timing: a ~120 Hz voice whose harmonics are shaped by
    two moving vowel formants, in four syllables a second with a pause every 2.5 s. Deterministic."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0 = 120.0 + 15.0 * np.sin(2 * np.pi * 0.5 * t)  # pitch, Hz
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    f1 = 500.0 + 200.0 * np.sin(2 * np.pi * 4.0 * t)  # first and second formants, Hz
    f2 = 1500.0 + 500.0 * np.sin(2 * np.pi * 2.7 * t)
    wave = np.zeros_like(t)
    for k in range(1, 31):  # harmonic k at k * f0, weighted by how close it is to a formant
        gain = np.exp(-(((k * f0 - f1) / 150.0) ** 2)) + 0.5 * np.exp(-(((k * f0 - f2) / 250.0) ** 2)) + 0.02
        wave += gain * np.sin(k * phase)
    syllables = np.sqrt(np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None))
    pauses = (t % 2.5) < 2.2
    wave *= syllables * pauses
    return (0.3 * wave / max(float(np.abs(wave).max()), 1e-9)).astype(np.float32)


def speech_clips(speech: str | Path | None = None) -> tuple[list[np.ndarray], str]:
    """The 16 kHz clips to time and what they are: ``speech``, else ``./assets``, else synthetic."""
    if speech is not None:
        return [load_audio(speech, SAMPLE_RATE)], str(speech)
    clips = sorted(p for p in ASSETS_DIR.glob("*") if p.suffix in SPEECH_SUFFIXES) if ASSETS_DIR.is_dir() else []
    if clips:
        return [load_audio(p, SAMPLE_RATE) for p in clips], f"{ASSETS_DIR}/ ({len(clips)} clips)"
    return [synthetic_speech(2.5)], "synthetic (no --speech and no ./assets)"


def benchmark_speech(seconds: float, path: Path, speech: str | Path | None = None) -> tuple[Path, str]:
    """A ``seconds`` speech file at ``path`` (``speech_clips`` back to back) and what it is made of."""
    clips, source = speech_clips(speech)
    n = int(round(seconds * SAMPLE_RATE))
    wave = np.concatenate(clips * (1 + n // sum(map(len, clips))))[:n]
    save_wav(path, wave, SAMPLE_RATE)
    return path, source


E2E_STAGES = ("audio read", "emotion embed", "content encode", "sampling", "rendering", "encoding/mux")


def bench_e2e(seconds: float = 10.0, steps: int | None = None, size: int | None = None, avatar: str | None = None,
              checkpoints: str | Path = CHECKPOINTS_DIR, device: str | None = None,
              speech: str | Path | None = None, sampler: str | None = None) -> dict[str, float]:
    """The whole pipeline (``Animator.generate``) on ``seconds`` of speech, stage by stage.

    The first call warms up (rig build, lazy model parts) on a short clip; the timed call is the
    second, as a running app would see it. Rendering and encoding overlap (frames stream into
    ffmpeg): "rendering" is until the last frame is handed over, "encoding/mux" the flush after it.
    """
    t0 = time.perf_counter()
    config = AnimatorConfig(avatar=avatar, **({} if size is None else {"size": size}))
    animator = Animator.from_pretrained(checkpoints, device=device, config=config)
    load_s = time.perf_counter() - t0
    source = EmotionSource.label("happy", 3)
    with tempfile.TemporaryDirectory() as tmp:
        clip, what = benchmark_speech(seconds, Path(tmp) / "speech.wav", speech)
        warm, _ = benchmark_speech(1.0, Path(tmp) / "warm.wav", speech)
        t0 = time.perf_counter()
        animator.generate(warm, source, Path(tmp) / "warm.mp4", steps=2)
        warmup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = animator.generate(clip, source, Path(tmp) / "bench.mp4", steps=steps, sampler=sampler)
        total_s = time.perf_counter() - t0
        size_mib = result.video.stat().st_size / 2**20
    report: dict[str, float | str] = {
        "speech": what,
        "clip_seconds": seconds,
        "frames": result.motion.num_frames,
        "size_px": animator.config.size,
        "steps": result.sampling.steps,
        "sampler": result.sampling.sampler,
        "device": animator.config.device,
        "model_load_s": load_s,
        "warmup_s": warmup_s,
    }
    for stage in E2E_STAGES:
        report[f"{stage.replace(' ', '_').replace('/', '_')}_s"] = result.timings.get(stage, 0.0)
    report["other_s"] = total_s - sum(result.timings.get(stage, 0.0) for stage in E2E_STAGES)
    report["total_s"] = total_s
    report["realtime_factor"] = seconds / total_s
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["mp4_mib"] = size_mib
    return report


def bench_generate(seconds: float = 10.0, steps: int | None = None, guidance: float | None = None,
                   repeats: int = 3, checkpoints: str | Path = CHECKPOINTS_DIR, device: str | None = None,
                   speech: str | Path | None = None, sampler: str | None = None) -> dict[str, float]:
    """Sampling alone (content features and style given): ``seconds`` of motion with the sampler's
    ``steps`` and classifier-free guidance (two branches per step), best and median of ``repeats`` runs."""
    import torch  # lazy: start-up time

    animator = Animator.from_pretrained(checkpoints, device=device)
    sampling = animator.sampling(guidance, steps, 0, sampler)
    generator = animator.generator
    style = animator.space.embed(emotion="happy", intensity=3)
    with tempfile.TemporaryDirectory() as tmp:
        clip, what = benchmark_speech(seconds, Path(tmp) / "speech.wav", speech)
        wave = load_audio(clip, SAMPLE_RATE)
    t0 = time.perf_counter()
    content = animator.content_encoder.encode(wave)
    content_s = time.perf_counter() - t0
    frames = frames_for_duration(seconds, generator.fps)
    settings = {"guidance": sampling.guidance, "sampler": sampling.sampler}
    generator.sample(content, style, frames, steps=2, seed=0, **settings)  # warm-up
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        generator.sample(content, style, frames, steps=sampling.steps, seed=k, **settings)
        times.append(time.perf_counter() - t0)
    return {"speech": what, "clip_seconds": seconds, "frames": frames, "steps": sampling.steps,
            "guidance": sampling.guidance, "sampler": sampling.sampler, "device": animator.config.device,
            "threads": torch.get_num_threads(), "content_encode_s": content_s, "sample_best_s": min(times),
            "sample_median_s": float(np.median(times)), "realtime_factor": seconds / float(np.median(times))}


# Typed emotions a user might give; none is in a training pool, so nothing is cached by training.
TEXT_PROBES = ("livid", "over the moon", "just lost my dog", "a bit on edge", "not happy at all", "happy but nervous",
               "quietly furious", "bored stiff", "wrinkling my nose at it", "what a lovely surprise")


def bench_text(checkpoints: str | Path = CHECKPOINTS_DIR, repeats: int = 3) -> dict[str, float]:
    """Reading free text into an emotion vector once the text encoder is loaded (no cache hits)."""
    import torch  # lazy: start-up time

    from emoanim.binding.space import EmotionSpace

    t0 = time.perf_counter()
    space = EmotionSpace.from_pretrained(Path(checkpoints) / "emotion_space")
    space.read_text("calm")  # loads (and checks) the text encoder
    load_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        for text in TEXT_PROBES:
            space.text_encoder.clear_cache()
            t0 = time.perf_counter()
            space.read_text(text)
            times.append(time.perf_counter() - t0)
    return {"text_encoder": space.config.text_encoder, "threads": torch.get_num_threads(), "load_s": load_s,
            "read_median_ms": 1000 * float(np.median(times)), "read_p90_ms": 1000 * float(np.quantile(times, 0.9))}


def bench_track(video: str | Path | None = None, size: int = 640) -> dict[str, float]:
    """Face tracking frames per second (decode + MediaPipe + curves) of a face video scaled to ``size`` px
    wide (640 x 480 for a 4:3 video); default: the real-face set's 20 s video (``data real-faces``)."""
    from emoanim.face.tracking import TrackConfig, track_face

    video = Path(video) if video else Path("data/real_faces/sad_to_laughing.mp4")
    if not video.is_file():
        raise EmoAnimError(f"no face video at {video}: run `python -m emoanim data real-faces data/real_faces` or "
                           "give --video PATH")
    track_face(video, TrackConfig(max_side=size, max_seconds=2.0e4))  # warm-up (model load, caches)
    frames = []
    t0 = time.perf_counter()
    motion = track_face(video, TrackConfig(max_side=size, max_seconds=2.0e4),
                        progress=lambda done, total: frames.append(done))
    took = time.perf_counter() - t0
    return {"video": video.name, "max_side": size, "frames": frames[-1], "seconds": took,
            "frames_per_s": frames[-1] / took, "curves_frames": motion.num_frames}


def bench_load(requests: int = 24, size: int = 256, steps: int | None = None,
               checkpoints: str | Path = CHECKPOINTS_DIR) -> dict[str, float]:
    """The app (``app.py``, served on loopback in this process, the operator's settings from the
    environment) under ``requests`` visitors at once: good clips, 20 s clips and hostile files
    (``tools.load_test``). Latency p50/p95 of the good ones, throughput, peak memory."""
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))  # app.py and tools/ live beside the package
    import app
    from emoanim.pipeline import Animator
    from tools.browser import serve
    from tools.load_test import fire, generate_arguments, load_mix, summary

    animator = Animator.from_pretrained(checkpoints, device="cpu")
    settings = app.Settings.from_env()
    demo = app.build_demo(animator, size=size, examples=False, settings=settings)

    def arguments(audio: Path, **overrides) -> dict:
        return generate_arguments(audio, **{"steps": steps or animator.config.steps, **overrides})

    with tempfile.TemporaryDirectory() as tmp, serve(demo, allowed_paths=[root / "assets"]) as url:
        mix = load_mix(Path(tmp) / "in", requests)
        t0 = time.perf_counter()
        outcomes = fire(url, mix, arguments, Path(tmp) / "downloads")
        report = summary(outcomes, time.perf_counter() - t0)
    report.update({"concurrency": settings.concurrency, "size_px": size,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    return report


BENCHMARKS = {"render": bench_render, "e2e": bench_e2e, "generate": bench_generate, "text": bench_text,
              "track": bench_track, "load": bench_load}


def run_benchmark(target: str, **options) -> dict[str, float]:
    results = BENCHMARKS[target](**options)
    width = max(map(len, results))
    print(f"bench {target}")
    for key, value in results.items():
        print(f"  {key:{width}s}  {value:.3f}" if isinstance(value, float) else f"  {key:{width}s}  {value}")
    return results

"""Benchmarks (``python -m emoanim bench TARGET``): speed and memory, printed as a small report."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def talking_motion(rig, seconds: float, fps: float = 25.0, seed: int = 0) -> np.ndarray:
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


def bench_render(seconds: float = 20.0, size: int = 512, avatar: str | None = None) -> dict[str, float]:
    """Render + encode a ``seconds`` clip with audio at ``size``^2; report frames/s and memory."""
    from emoanim.render.clip import render_frames, render_video
    from emoanim.render.renderer import FaceRenderer, RenderConfig
    from emoanim.rigs import load_rig

    t0 = time.perf_counter()
    rig = load_rig("arkit", avatar=avatar)
    load_s = time.perf_counter() - t0
    fps = 25.0
    params = talking_motion(rig, seconds, fps)
    sample_rate = 48000
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * sample_rate))).astype(np.float32)
    config = RenderConfig(size, size)

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
        "size_px": size,
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


def benchmark_speech(seconds: float, path: Path) -> Path:
    """A ``seconds`` speech clip for timing: the bundled example clips (``assets/``) back to back."""
    from emoanim.audio.io import load_audio, save_wav

    assets = Path(__file__).resolve().parents[1] / "assets"
    clips = [load_audio(p, 16000) for p in sorted(assets.glob("*")) if p.suffix in (".wav", ".ogg", ".mp3", ".flac")]
    if not clips:
        raise FileNotFoundError(f"no example clips in {assets}")
    n = int(round(seconds * 16000))
    wave = np.concatenate(clips * (1 + n // sum(map(len, clips))))[:n]
    save_wav(path, wave, 16000)
    return path


E2E_STAGES = ("audio read", "emotion embed", "content encode", "sampling", "rendering", "encoding/mux")


def bench_e2e(seconds: float = 10.0, steps: int = 25, size: int = 512, avatar: str | None = None,
              checkpoints: str | Path = "checkpoints", device: str | None = None) -> dict[str, float]:
    """The whole pipeline (``Animator.generate``) on ``seconds`` of speech, stage by stage.

    The first call warms up (rig build, lazy model parts) on a short clip; the timed call is the
    second, as a running app would see it. Rendering and encoding overlap (frames stream into
    ffmpeg): "rendering" is until the last frame is handed over, "encoding/mux" the flush after it.
    """
    from emoanim.pipeline import Animator, AnimatorConfig, EmotionSource

    t0 = time.perf_counter()
    animator = Animator.from_pretrained(checkpoints, device=device, config=AnimatorConfig(avatar=avatar, size=size))
    load_s = time.perf_counter() - t0
    source = EmotionSource.label("happy", 3)
    with tempfile.TemporaryDirectory() as tmp:
        speech = benchmark_speech(seconds, Path(tmp) / "speech.wav")
        warm = benchmark_speech(1.0, Path(tmp) / "warm.wav")
        t0 = time.perf_counter()
        animator.generate(warm, source, Path(tmp) / "warm.mp4", steps=2, size=size)
        warmup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = animator.generate(speech, source, Path(tmp) / "bench.mp4", steps=steps, size=size)
        total_s = time.perf_counter() - t0
        size_mib = result.video.stat().st_size / 2**20
    report: dict[str, float | str] = {
        "clip_seconds": seconds,
        "frames": result.motion.num_frames,
        "size_px": size,
        "steps": steps,
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


def bench_generate(seconds: float = 10.0, steps: int = 25, guidance: float = 2.0, repeats: int = 3,
                   checkpoints: str | Path = "checkpoints", device: str | None = None, **_) -> dict[str, float]:
    """Sampling alone (content features and style given): ``seconds`` of motion with ``steps`` DDIM
    steps and classifier-free guidance (two branches per step), best and median of ``repeats`` runs."""
    import torch

    from emoanim.audio.content import load_content_encoder
    from emoanim.binding.space import EmotionSpace
    from emoanim.diffusion import MotionGenerator
    from emoanim.timing import frames_for_duration

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    folder = Path(checkpoints)
    generator = MotionGenerator.from_pretrained(folder / "generator", device=device)
    encoder = load_content_encoder(folder / "content_encoder", device=device)
    style = EmotionSpace.from_pretrained(folder / "emotion_space").embed(emotion="happy", intensity=3)
    with tempfile.TemporaryDirectory() as tmp:
        from emoanim.audio.io import load_audio

        wave = load_audio(benchmark_speech(seconds, Path(tmp) / "speech.wav"), 16000)
    t0 = time.perf_counter()
    content = encoder.encode(wave)
    content_s = time.perf_counter() - t0
    frames = frames_for_duration(seconds, generator.fps)
    generator.sample(content, style, frames, guidance=guidance, steps=2, seed=0)  # warm-up
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        generator.sample(content, style, frames, guidance=guidance, steps=steps, seed=k)
        times.append(time.perf_counter() - t0)
    return {"clip_seconds": seconds, "frames": frames, "steps": steps, "guidance": guidance, "device": device,
            "threads": torch.get_num_threads(), "content_encode_s": content_s, "sample_best_s": min(times),
            "sample_median_s": float(np.median(times)), "realtime_factor": seconds / float(np.median(times))}


BENCHMARKS = {"render": bench_render, "e2e": bench_e2e, "generate": bench_generate}


def run_benchmark(target: str, **options) -> dict[str, float]:
    results = BENCHMARKS[target](**options)
    width = max(map(len, results))
    print(f"bench {target}")
    for key, value in results.items():
        print(f"  {key:{width}s}  {value:.3f}" if isinstance(value, float) else f"  {key:{width}s}  {value}")
    return results

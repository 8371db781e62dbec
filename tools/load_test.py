"""Many clients at once against a running app (loopback): what ``bench load`` and the load test send.

    requests = load_mix(folder, n)        good clips, long clips and hostile inputs, interleaved
    results  = fire(url, requests)        every request submitted at once through gradio_client; each
                                          records its latency, its queue positions and its outcome
    summary(results)                      p50 / p95 latency of the good ones, throughput, outcomes
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"


@dataclass
class Request:
    kind: str  # "good", "long" or "hostile"
    audio: Path
    expect: str = ""  # for a hostile one: part of the message it must get
    overrides: dict = field(default_factory=dict)


@dataclass
class Outcome:
    request: Request
    seconds: float
    video: Path | None = None
    error: str | None = None
    positions: list[int] = field(default_factory=list)  # the queue positions the client was told


def generate_arguments(audio: Path, **overrides) -> dict:
    """The app's /generate keyword arguments: an emotion label take of ``audio``, ``overrides`` on top."""
    from gradio_client import handle_file

    from emoanim.vocabulary import DEFAULT_GUIDANCE, DEFAULT_STEPS

    return {"audio": handle_file(str(audio)), "source_kind": "Emotion label", "emotion": "happy", "intensity": 3,
            "text": "", "ref_audio": None, "ref_motion": None, "blend_weight": 0.0, "blend_kind": "Emotion label",
            "blend_emotion": "surprised", "blend_intensity": 2, "blend_text": "", "guidance": DEFAULT_GUIDANCE,
            "steps": DEFAULT_STEPS, "seed": 0, "avatar": "alex", **overrides}


def wait_for_stage(job, word: str, timeout: float = 120.0) -> str:
    """The progress text of a running ``gradio_client`` job, once it names ``word`` (polled through its
    status); AssertionError if the job ends first or the time runs out."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for unit in job.status().progress_data or []:
            if unit.desc and word in unit.desc:
                return unit.desc
        if job.done():
            raise AssertionError(f"the request ended before reporting '{word}': {job.status()}")
        time.sleep(0.05)
    raise AssertionError(f"the request never reported '{word}' (status {job.status()})")


def load_mix(folder: Path, n: int = 24, long_seconds: float = 20.0) -> list[Request]:
    """``n`` requests: one in six long (``long_seconds`` of speech), one in four hostile, the rest the
    bundled clips; files are written into ``folder``."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    import hostile  # (the hostile-input catalogue the tests use)

    from emoanim.audio import load_audio, save_wav

    folder.mkdir(parents=True, exist_ok=True)
    clips = [ASSETS / name for name in ("happy.ogg", "angry.wav", "sad.mp3", "surprised.flac")]
    speech = np.concatenate([load_audio(c) for c in clips])
    long_clip = folder / "long.wav"
    save_wav(long_clip, np.tile(speech, int(np.ceil(long_seconds * 16000 / len(speech))))[: int(long_seconds * 16000)], 16000)
    hostiles = [(hostile.png_as_wav(folder), "no audio track"), (hostile.silent_wav(folder), "silent"),
                (hostile.random_mp3(folder), "unreadable or corrupt"), (hostile.too_long_wav(folder), "the limit is")]
    out = []
    for i in range(n):
        if i % 4 == 3:
            path, expect = hostiles[(i // 4) % len(hostiles)]
            out.append(Request("hostile", path, expect))
        elif i % 6 == 5:
            out.append(Request("long", long_clip))
        else:
            out.append(Request("good", clips[i % len(clips)]))
    return out


def fire(url: str, requests: list[Request], arguments, download: Path) -> list[Outcome]:
    """Submit every request at once (a client each, as separate visitors are) and wait for all.
    ``arguments(audio_path, **overrides)`` -> the /generate keyword arguments."""
    from gradio_client import Client

    def one(request: Request) -> Outcome:
        client = Client(url, verbose=False, download_files=str(download))
        started = time.perf_counter()
        job = client.submit(**arguments(request.audio, **request.overrides), api_name="/generate")
        outcome = Outcome(request, 0.0)
        while not job.done():
            status = job.status()
            if status.rank is not None and (not outcome.positions or outcome.positions[-1] != status.rank):
                outcome.positions.append(int(status.rank))
            time.sleep(0.05)
        try:
            video = job.result()[0]
            outcome.video = Path(video["video"] if isinstance(video, dict) else video)
        except Exception as exc:  # noqa: BLE001 - the app's message, which the caller checks
            outcome.error = str(exc)
        outcome.seconds = time.perf_counter() - started
        return outcome

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def summary(outcomes: list[Outcome], wall_s: float) -> dict[str, float]:
    good = [o.seconds for o in outcomes if o.request.kind != "hostile" and o.video is not None]
    return {"requests": len(outcomes), "completed": len(good),
            "refused_hostile": sum(o.request.kind == "hostile" and o.error is not None for o in outcomes),
            "p50_s": float(np.percentile(good, 50)) if good else float("nan"),
            "p95_s": float(np.percentile(good, 95)) if good else float("nan"),
            "throughput_per_min": 60.0 * len(good) / wall_s, "wall_s": wall_s,
            "max_queue_position": max((max(o.positions) for o in outcomes if o.positions), default=0)}


def cleanup(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)

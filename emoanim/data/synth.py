"""Builds the synthetic emotional talking-face corpus (``python -m emoanim data synth``).

Each clip is a pure function of (seed, clip index): a split, a voice and a sentence of that split,
an emotion and intensity, prosody drawn for them, TTS speech with phone timings (engine events, or
forced alignment), rule-based facial motion driven by the clean speech, then audio augmentation.
The corpus is the shortest prefix of clip indices that reaches the requested hours, so a build is
deterministic however many workers run it, and an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoanim.audio.align import align_phones
from emoanim.data.augment import augment
from emoanim.data.corpus import SPLITS, ClipInfo, CorpusMeta, CorpusWriter, held_out_count, read_manifest, stable_unit
from emoanim.data.descriptions import descriptions
from emoanim.data.facial import synthesize_motion
from emoanim.data.sentences import SentenceGenerator, split_of_sentence
from emoanim.data.tts import emotion_prosody, list_voices, synthesize
from emoanim.errors import EmoAnimError
from emoanim.rigs.arkit import ARKIT_PARAMS
from emoanim.vocabulary import EMOTIONS, MOTION_FPS, SAMPLE_RATE

SPLIT_SHARES = {"train": 0.8, "val": 0.1, "test": 0.1}
AUGMENT_PROBABILITY = 0.7
DESCRIPTIONS_PER_CLIP = 4
ENGINE_WEIGHTS = {"espeak": 0.4, "flite": 0.3, "festival": 0.3}
VAL_VOICES, TEST_VOICES = 0.10, 0.15  # fractions of each engine's voices held out for val and test


@dataclass(frozen=True)
class SynthConfig:
    out: Path
    hours: float = 6.0
    seed: int = 0
    workers: int = 2


def split_voices(voices: list, seed: int) -> dict[str, list]:
    """Voices per split, by a stable hash, with every split drawing on every engine it can."""
    by_split: dict[str, list] = {split: [] for split in SPLITS}
    for engine in sorted({v.engine for v in voices}):
        engine_voices = sorted((v for v in voices if v.engine == engine), key=lambda v: stable_unit(seed, v.id))
        n = len(engine_voices)
        n_test, n_val = held_out_count(n, TEST_VOICES), held_out_count(n, VAL_VOICES)
        by_split["test"] += engine_voices[:n_test]
        by_split["val"] += engine_voices[n_test : n_test + n_val]
        by_split["train"] += engine_voices[n_test + n_val :]
    return by_split


class ClipMaker:
    """Everything a worker process needs, built once per process."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.voices = split_voices(list_voices(), seed)
        missing = [split for split, voices in self.voices.items() if not voices]
        if missing:
            raise EmoAnimError(f"no TTS voices for split(s) {missing}: install espeak-ng, flite and festival (make setup)")
        self.sentences = SentenceGenerator(seed)

    def plan(self, index: int, rng: np.random.Generator) -> dict:
        shares = np.array([SPLIT_SHARES[s] for s in SPLITS])
        split = SPLITS[int(np.searchsorted(np.cumsum(shares), stable_unit(self.seed, "split", index), side="right"))]
        # Engine first, then a voice of it: espeak-ng has far more voices than flite and festival,
        # and a corpus of mostly one synthesiser would teach its timbre.
        voices = self.voices[split]
        engines = sorted({v.engine for v in voices})
        weights = np.array([ENGINE_WEIGHTS.get(e, 0.2) for e in engines])
        engine = engines[int(rng.choice(len(engines), p=weights / weights.sum()))]
        engine_voices = [v for v in voices if v.engine == engine]
        voice = engine_voices[int(rng.integers(len(engine_voices)))]
        sentence_index = index * 8
        while True:  # the first sentence at or after index*8 that belongs to this split
            sentence = self.sentences.sentence(sentence_index)
            if split_of_sentence(sentence.id, self.seed) == split:
                break
            sentence_index += 1
        emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        intensity = 1 if emotion == "neutral" else int(rng.integers(1, 4))
        return {"split": split, "voice": voice, "sentence": sentence, "emotion": emotion, "intensity": intensity}

    def make(self, index: int) -> tuple[ClipInfo, np.ndarray, np.ndarray, list]:
        rng = np.random.default_rng([self.seed, index])
        plan = self.plan(index, rng)
        style = emotion_prosody(plan["emotion"], plan["intensity"], rng)
        speech = synthesize(plan["sentence"].text, plan["voice"], style, SAMPLE_RATE, rng)
        phones = speech.phones
        timing = "engine"
        if phones is None:
            phones, timing = align_phones(speech.audio, SAMPLE_RATE, plan["sentence"].text), "aligned"
        params = synthesize_motion(
            phones, speech.audio, SAMPLE_RATE, plan["emotion"], plan["intensity"], rng, MOTION_FPS
        )
        augmented = rng.random() < AUGMENT_PROBABILITY
        audio = augment(speech.audio, SAMPLE_RATE, rng) if augmented else speech.audio
        texts = descriptions(
            plan["emotion"], plan["intensity"], rng, DESCRIPTIONS_PER_CLIP, "heldout" if plan["split"] == "test" else "train"
        )
        info = ClipInfo(
            id=f"syn{index:07d}",
            split=plan["split"],
            emotion=plan["emotion"],
            intensity=plan["intensity"],
            duration=len(audio) / SAMPLE_RATE,
            num_frames=len(params),
            speaker=plan["voice"].id,
            text=plan["sentence"].text,
            descriptions=texts,
            extra={
                "engine": plan["voice"].engine,
                "sentence_id": plan["sentence"].id,
                "phone_timing": timing,
                "augmented": bool(augmented),
                "prosody": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(style).items()},
            },
        )
        return info, audio, params, phones


_maker: ClipMaker | None = None


def _init_worker(seed: int) -> None:
    global _maker
    _maker = ClipMaker(seed)


def _make_clip(index: int):
    assert _maker is not None
    try:
        return index, _maker.make(index), None
    except Exception as exc:  # a bad clip is reported and skipped, the build goes on
        return index, None, f"{type(exc).__name__}: {exc}"


def _index_of(clip_id: str) -> int:
    return int(clip_id[3:])


def build_corpus(config: SynthConfig, log=print) -> dict:
    """Synthesize until ``config.hours`` of speech exist in ``config.out``; returns a summary."""
    if config.hours <= 0:
        raise EmoAnimError("--hours must be positive")
    meta = CorpusMeta(
        rig="arkit",
        names=list(ARKIT_PARAMS),
        fps=MOTION_FPS,
        sample_rate=SAMPLE_RATE,
        source="synthetic",
        created_by={"command": "python -m emoanim data synth", "seed": config.seed, "hours": config.hours},
    )
    writer = CorpusWriter(config.out, meta)
    existing = {_index_of(info.id): info.duration for info in _existing(writer)}
    target, total, made, failures, started = config.hours * 3600.0, 0.0, 0, [], time.time()
    window = 4 * config.workers  # clips in flight: bounded, so memory stays flat
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with context.Pool(config.workers, initializer=_init_worker, initargs=(config.seed,)) as pool:
        in_flight: deque = deque()
        next_index = 0
        index = -1
        while total < target:
            # Keep the window full with the next indices the corpus does not have yet.
            while len(in_flight) < window:
                if next_index not in existing:
                    in_flight.append((next_index, pool.apply_async(_make_clip, (next_index,))))
                next_index += 1
            # Account for clips in index order: existing ones first, then the oldest in flight.
            head = in_flight[0][0] if in_flight else next_index
            while index + 1 < head and total < target:
                index += 1
                total += existing.get(index, 0.0)
            if total >= target or not in_flight:
                break
            index, result = in_flight.popleft()
            _, clip, error = result.get()
            if error is not None:
                failures.append((index, error))
                log(f"clip {index} failed: {error}")
                continue
            writer.add(*clip)
            total += clip[0].duration
            made += 1
            if made % 100 == 0:
                rate = total / max(time.time() - started, 1e-6)
                log(f"{index + 1} clips, {total / 3600:.2f} of {config.hours} h ({rate:.1f} s of audio per s)")
        pool.terminate()
    # Clips past the prefix (from an earlier, longer build) are dropped so the corpus is exact.
    writer.finish(keep=lambda clip_id: _index_of(clip_id) <= index)
    summary = {"clips": index + 1 - len(failures), "new": made, "hours": total / 3600.0, "failed": len(failures),
               "seconds": time.time() - started}
    log(f"done: {summary['clips']} clips ({made} new), {summary['hours']:.2f} h, {len(failures)} failed, "
        f"{summary['seconds']:.0f} s")
    return summary


def _existing(writer: CorpusWriter) -> list[ClipInfo]:
    return read_manifest(writer.root / "manifest.jsonl")

"""Lip evaluation per phone class, on real speech and on held-out synthetic voices
(``python -m emoanim evaluate lips``).

For each clip: reference phone timings (real speech: pocketsphinx forced alignment of the reference
transcript; synthetic speech: the TTS engine's exact phone timings), content from one **route**, motion
from the generator (neutral emotion by default), posed on the ARKit rig with the head held still, then
per phone (its span widened by ``margin_s`` = 20 ms each side, at least one motion frame):

* **closure** /p b m/: the lips meet: min inner-lip gap <= 3 mm.
* **open** vowels /aa ae ah ao aw ay/ of >= 60 ms: max inner-lip gap >= 6 mm.
* **labiodental** /f v/: the lower lip is drawn up and back under the upper teeth: in some frame the
  lower lip's front surface is >= 1 mm further behind the upper lip's front surface than jaw opening
  alone would put it (``tuck``), with the inner gap <= 8 mm (lips not wide open). Jaw opening also
  moves the lower lip back (it rotates about the jaw), so ``tuck`` subtracts the rig's own jaw
  retraction per mm of lower-lip drop (measured once from the rig's jawOpen action). The rig has no
  teeth to touch; this is the visible part of the gesture (ARKit mouthRollLower, which the synthetic
  corpus uses for /f v/). On the corpus's own motion it holds on ~all /f v/ but also on some vowels
  next to them, so read it as "the gesture is there", not as a classifier.
* **rounding** /uw ow w/: the lip corners come together: min mouth width (corner to corner of the
  inner-lip lines) <= reference width - 2 mm; reference = the median over the clip's spread vowels
  /iy ih eh/ of their max width, or the neutral face's width when the clip has none.

Routes (``ROUTES``) say where the content comes from: ``ppg`` the content encoder's phone posteriors;
``aligned`` recognise (Whisper) then align the recognised words and fuse them with the posteriors
(``audio.content.AlignedContentEncoder``; posteriors alone when recognition is not usable);
``transcript`` the same from the reference transcript (the upper bound of ``aligned``). With
``onehot`` the aligned routes feed pure one-hot phones + the loudness channel instead. Rates come
with their n.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from emoanim.audio.align import align
from emoanim.audio.io import load_audio
from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.timing import frames_for_duration
from emoanim.vocabulary import BILABIALS, CONTENT_RATE, LABIODENTALS, PHONES, SAMPLE_RATE, PhoneSegment

OPEN_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay"})
ROUNDED_PHONES = frozenset({"uw", "ow", "w"})
SPREAD_VOWELS = frozenset({"iy", "ih", "eh"})
CLASSES = ("closure", "open", "labiodental", "rounding")
CLASS_PHONES = {"closure": BILABIALS, "open": OPEN_VOWELS, "labiodental": LABIODENTALS, "rounding": ROUNDED_PHONES}
ROUTES = ("ppg", "aligned", "transcript")


@dataclass
class LipCriteria:
    margin_s: float = 0.02  # each phone's span is widened by this on both sides
    closure_mm: float = 3.0  # /p b m/: min inner-lip gap at most this
    open_mm: float = 6.0  # open vowels: max inner-lip gap at least this
    open_min_s: float = 0.06  # only open vowels at least this long are scored
    tuck_mm: float = 1.0  # /f v/: lower lip at least this far behind where the jaw alone puts it
    tuck_max_gap_mm: float = 8.0  # /f v/: ... in a frame whose inner gap is at most this
    rounding_mm: float = 2.0  # /uw ow w/: min width at least this much under the reference width


# ---- geometry -----------------------------------------------------------------------------------


class LipGeometry:
    """Poses the lip vertices of a rig (head rotation held at 0) -> per-frame measures in mm.

    ``gap``: inner upper-lip midline height minus inner lower-lip midline height (mean over the
    lines); ``width``: corner-to-corner x extent of the two inner-lip lines; ``tuck``: lower-lip
    front surface behind the upper-lip front surface, minus the neutral face's value and minus the
    retraction jaw opening alone gives for the same lower-lip drop (see the module docstring)."""

    def __init__(self, rig) -> None:
        self.rig = rig
        self.upper, self.lower = rig.group("upper_lip"), rig.group("lower_lip")
        rest = rig.vertices(rig.neutral()[None])[0]
        mouth = rig.group("mouth")
        m = rest[mouth]
        uy, ly = rest[self.upper, 1].mean(), rest[self.lower, 1].mean()
        self.upper_front = self._front(mouth, rest, (np.abs(m[:, 0]) < 0.006) & (m[:, 1] > uy) & (m[:, 1] < uy + 0.008))
        self.lower_front = self._front(mouth, rest, (np.abs(m[:, 0]) < 0.006) & (m[:, 1] < ly) & (m[:, 1] > ly - 0.008))
        self.index = np.unique(np.concatenate([self.upper, self.lower, self.upper_front, self.lower_front]))
        self._pos = {k: np.searchsorted(self.index, getattr(self, k))
                     for k in ("upper", "lower", "upper_front", "lower_front")}
        self._head = [rig.param_index(n) for n in rig.group_params("head")]
        self._rest_lower_y = float(rest[self.lower, 1].mean())
        self._behind0 = 0.0
        self._slope = 0.0
        neutral = self._raw(rig.neutral()[None])
        self._behind0 = float(neutral["behind"][0])
        self.neutral_width = float(neutral["width"][0])
        jaw = rig.neutral()[None].copy()
        jaw[0, rig.param_index("jawOpen")] = 0.3
        j = self._raw(jaw)
        self._slope = float((j["behind"][0] - self._behind0) / j["drop"][0])  # mm behind per mm of drop

    @staticmethod
    def _front(mouth: np.ndarray, rest: np.ndarray, sel: np.ndarray) -> np.ndarray:
        cand = mouth[sel]
        if not len(cand):
            raise EmoAnimError("the rig's mouth group has no lip surface in front of the inner-lip lines")
        return cand[rest[cand, 2] > rest[cand, 2].max() - 0.002]  # front-most 2 mm: the lip's surface

    def _raw(self, params: np.ndarray) -> dict[str, np.ndarray]:
        params = np.array(params, np.float32, copy=True)
        params[:, self._head] = 0.0
        v = self.rig.vertices_at(params, self.index)  # [T, n, 3] metres
        u, lo = v[:, self._pos["upper"]], v[:, self._pos["lower"]]
        x = np.concatenate([u[..., 0], lo[..., 0]], 1)
        return {
            "gap": 1000 * (u[..., 1].mean(1) - lo[..., 1].mean(1)),
            "width": 1000 * (x.max(1) - x.min(1)),
            "behind": 1000 * (v[:, self._pos["upper_front"], 2].mean(1) - v[:, self._pos["lower_front"], 2].mean(1)),
            "drop": 1000 * (self._rest_lower_y - lo[..., 1].mean(1)),
        }

    def __call__(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """params [T, D] -> {"gap", "width", "tuck"}: [T] each, mm."""
        r = self._raw(params)
        tuck = r["behind"] - self._behind0 - self._slope * r["drop"]
        return {"gap": r["gap"], "width": r["width"], "tuck": tuck}


# ---- scoring ------------------------------------------------------------------------------------


def phone_frames(p: PhoneSegment, fps: float, num_frames: int, margin_s: float) -> slice:
    """The motion frames of a phone widened by ``margin_s`` each side (at least one frame)."""
    a = max(0, int(np.floor((p.start - margin_s) * fps)))
    b = min(num_frames, max(int(np.ceil((p.end + margin_s) * fps)), a + 1))
    return slice(a, b)


def score_clip(measures: dict[str, np.ndarray], phones: list[PhoneSegment], fps: float,
               criteria: LipCriteria | None = None) -> dict[str, list[bool]]:
    """Per-frame measures (``LipGeometry``) + reference phones -> pass/fail per scored phone, per class."""
    c = criteria or LipCriteria()
    gap, width, tuck = measures["gap"], measures["width"], measures["tuck"]
    T = len(gap)
    out: dict[str, list[bool]] = {k: [] for k in CLASSES}
    spread = [width[phone_frames(p, fps, T, c.margin_s)].max() for p in phones if p.phone in SPREAD_VOWELS]
    spread = [w for w in spread if np.isfinite(w)]
    ref_width = float(np.median(spread)) if spread else measures.get("neutral_width", float(np.median(width)))
    for p in phones:
        s = phone_frames(p, fps, T, c.margin_s)
        if s.start >= T:
            continue
        if p.phone in BILABIALS:
            out["closure"].append(bool(gap[s].min() <= c.closure_mm))
        elif p.phone in OPEN_VOWELS and p.duration >= c.open_min_s:
            out["open"].append(bool(gap[s].max() >= c.open_mm))
        elif p.phone in LABIODENTALS:
            out["labiodental"].append(bool(((tuck[s] >= c.tuck_mm) & (gap[s] <= c.tuck_max_gap_mm)).any()))
        elif p.phone in ROUNDED_PHONES:
            out["rounding"].append(bool(width[s].min() <= ref_width - c.rounding_mm))
    return out


# ---- content routes -----------------------------------------------------------------------------


def onehot_content(phones: list[PhoneSegment], loudness: np.ndarray) -> np.ndarray:
    """Phone segments + loudness [T] -> content [T, P + 1]: one-hot phones at CONTENT_RATE (frame
    centres), then the loudness channel (the layout the generator reads)."""
    T = len(loudness)
    t = (np.arange(T) + 0.5) / CONTENT_RATE
    idx = np.zeros(T, int)
    for p in phones:
        idx[(t >= p.start) & (t < p.end)] = PHONES.index(p.phone)
    out = np.zeros((T, len(PHONES) + 1), np.float32)
    out[np.arange(T), idx] = 1.0
    out[:, -1] = loudness
    return out


ContentFn = Callable[[np.ndarray, str], np.ndarray]  # (wave [N] 16 kHz, reference transcript) -> [T, C]


def aligned_encoder(encoder):
    """The recognise-then-align encoder (``audio.content.AlignedContentEncoder``) over ``encoder``'s
    phone recogniser: ``encoder`` itself when it is one, else one wrapping that ``ContentEncoder``."""
    from emoanim.audio.content import AlignedContentConfig, AlignedContentEncoder  # lazy: start-up time

    if isinstance(encoder, AlignedContentEncoder):
        return encoder
    wrapped = AlignedContentEncoder(AlignedContentConfig(posteriors=encoder.config))
    wrapped.posteriors = encoder
    return wrapped.eval()


def make_route(name: str, encoder, onehot: bool = False) -> ContentFn:
    """The content function of route ``name`` over a content encoder (the pipeline's, or a ``ppg`` one).

    ``ppg``: the phone posteriors alone; ``aligned``: recognise (Whisper), align, fuse with the posteriors
    (the encoder's fallback to posteriors when recognition is not usable); ``transcript``: the same from
    the reference transcript. ``onehot``: the aligned routes feed pure one-hot phones + loudness instead
    of the encoder's fusion (the variant /tmp/exp11 measured)."""
    if name not in ROUTES:
        raise EmoAnimError(f"unknown content route '{name}'; choose from {', '.join(ROUTES)} or give a content "
                           "encoder folder")
    fused = aligned_encoder(encoder)
    posteriors = fused.posteriors
    if name == "ppg":
        return lambda wave, text: posteriors.encode(wave)
    if not onehot:
        return lambda wave, text: fused.encode(wave, text if name == "transcript" else None)

    def aligned_onehot(wave: np.ndarray, text: str) -> np.ndarray:
        ppg = posteriors.encode(wave)
        if name == "aligned":
            heard = fused.recognise(wave)
            if not heard.usable:
                return ppg  # the fallback: what the acoustics alone say
            text = heard.text
        return onehot_content(align(wave, SAMPLE_RATE, text).phones, ppg[:, -1])

    return aligned_onehot


# ---- clips --------------------------------------------------------------------------------------


@dataclass
class LipClip:
    id: str
    wave: np.ndarray  # float32 [N] at 16 kHz
    transcript: str
    phones: list[PhoneSegment] | None = None  # exact reference timings (synthetic); None = align the transcript
    speaker: str = ""


def real_clips(folder: str | Path, split: str = "dev", limit: int | None = None) -> list[LipClip]:
    """The clips of a real-speech set (``data real-devset``) in ``split`` (dev | test | all)."""
    from emoanim.data.realspeech import read_manifest  # lazy: only this set type needs it

    rows = [r for r in read_manifest(folder) if split == "all" or r.split == split]
    if not rows:
        raise EmoAnimError(f"no '{split}' clips in {folder}/manifest.tsv")
    rows = rows[:limit] if limit else rows
    return [LipClip(r.id, load_audio(Path(folder) / f"{r.id}.wav", SAMPLE_RATE), r.transcript, None, r.speaker)
            for r in rows]


def synthetic_clips(count: int, seed: int = 0) -> list[LipClip]:
    """``count`` clips of held-out synthetic voices (the corpus's test voices and test sentences, seed
    ``seed``), neutral delivery, with the engines' exact phone timings."""
    from emoanim.data.sentences import SentenceGenerator, split_of_sentence  # lazy: start-up time (TTS)
    from emoanim.data.synth import split_voices
    from emoanim.data.tts import list_voices, synthesize

    voices = split_voices(list_voices(), seed)["test"]
    if not voices:
        raise EmoAnimError("no TTS voices installed: install espeak-ng, flite and festival (make setup)")
    sentences = SentenceGenerator(seed)
    out, index = [], 0
    while len(out) < count and index < 50 * count + 100:
        sentence = sentences.sentence(index)
        index += 1
        if split_of_sentence(sentence.id, seed) != "test":
            continue
        voice = voices[len(out) % len(voices)]
        speech = synthesize(sentence.text, voice, None, SAMPLE_RATE, np.random.default_rng([seed, index]))
        if speech.phones is None:
            continue
        out.append(LipClip(f"syn_{voice.id}_{sentence.id}", speech.audio, sentence.text, speech.phones, voice.id))
    return out


# ---- the evaluation -----------------------------------------------------------------------------


@dataclass
class LipEvalOptions:
    emotion: str = "neutral"  # the emotion label the motion is generated with
    seeds: tuple[int, ...] = (0,)  # one take per seed; rates pool the takes
    criteria: LipCriteria = field(default_factory=LipCriteria)


def evaluate_lips(sets: dict[str, list[LipClip]], routes: dict[str, ContentFn], space, generator, rig,
                  options: LipEvalOptions | None = None, log=None) -> dict:
    """Rates per (route, set, phone class): {"rows": [{route, set, clips, <class>: {rate, n}}], ...}.

    ``space.embed(emotion=...)`` gives the style, ``generator.sample(content, style, frames, seed=)``
    the motion (the pipeline's Animator has both)."""
    options = options or LipEvalOptions()
    log = log or (lambda msg: None)
    geometry = LipGeometry(rig)
    style = space.embed(emotion=options.emotion)
    refs: dict[str, list] = {}
    for set_name, clips in sets.items():  # reference timings once per clip, shared by the routes
        refs[set_name] = []
        for clip in clips:
            if clip.phones is not None:
                refs[set_name].append((clip, clip.phones, "engine"))
            else:
                result = align(clip.wave, SAMPLE_RATE, clip.transcript)
                refs[set_name].append((clip, result.phones, result.method))
    rows = []
    for route, content_fn in routes.items():
        for set_name, items in refs.items():
            scores: dict[str, list[bool]] = {k: [] for k in CLASSES}
            seconds, skipped = [], []
            for k, (clip, phones, method) in enumerate(items, 1):
                if method not in ("engine", "pocketsphinx"):
                    skipped.append(clip.id)  # approximate timings would score the aligner, not the lips
                    continue
                t0 = time.perf_counter()
                content = content_fn(clip.wave, clip.transcript)
                seconds.append(time.perf_counter() - t0)
                frames = frames_for_duration(clip.wave.size / SAMPLE_RATE, generator.fps)
                for seed in options.seeds:
                    params = generator.sample(content, style, frames, seed=seed)
                    measures = geometry(np.asarray(params, np.float32))
                    measures["neutral_width"] = geometry.neutral_width
                    for cls, values in score_clip(measures, phones, generator.fps, options.criteria).items():
                        scores[cls] += values
                log(f"[{route} | {set_name}] {k}/{len(items)} {clip.id}")
            row = {"route": route, "set": set_name, "clips": len(items) - len(skipped), "skipped": skipped,
                   "content_s_per_clip": float(np.mean(seconds)) if seconds else None,
                   "audio_s_per_clip": float(np.mean([c.wave.size / SAMPLE_RATE for c, _, _ in items]))}
            for cls, values in scores.items():
                row[cls] = {"rate": float(np.mean(values)) if values else None, "n": len(values)}
            rows.append(row)
    return {"rows": rows, "emotion": options.emotion, "seeds": list(options.seeds),
            "criteria": asdict(options.criteria), "sets": {k: len(v) for k, v in sets.items()}}


def markdown_table(results: dict) -> str:
    c = results["criteria"]
    lines = [
        (f"Lips per phone class ({results['emotion']} emotion, seeds {results['seeds']}); rate (n phones). "
        f"closure: min gap <= {c['closure_mm']:g} mm on /p b m/; open: max gap >= {c['open_mm']:g} mm on open "
        f"vowels >= {1000 * c['open_min_s']:g} ms; labiodental: lower-lip tuck >= {c['tuck_mm']:g} mm at gap <= "
        f"{c['tuck_max_gap_mm']:g} mm on /f v/; rounding: width <= reference - {c['rounding_mm']:g} mm on /uw ow w/; "
        f"each phone +-{1000 * c['margin_s']:g} ms."),
        "",
        ("| content route | set | clips | closure /p b m/ | open vowels | lip-to-teeth /f v/ | rounding /uw ow w/ | "
        "content s/clip (audio s) |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        cells = [f"{r[k]['rate']:.3f} ({r[k]['n']})" if r[k]["rate"] is not None else f"— ({r[k]['n']})"
                 for k in CLASSES]
        lat = "—" if r["content_s_per_clip"] is None else f"{r['content_s_per_clip']:.2f} ({r['audio_s_per_clip']:.1f})"
        lines.append(f"| {r['route']} | {r['set']} | {r['clips']} | " + " | ".join(cells) + f" | {lat} |")
    return "\n".join(lines) + "\n"


def write_report(results: dict, out: str | Path, stem: str = "lips_eval") -> tuple[Path, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    j = atomic_write(out / f"{stem}.json", lambda f: json.dump(results, f, indent=1), binary=False)
    m = atomic_write(out / f"{stem}.md", lambda f: f.write(markdown_table(results)), binary=False)
    return Path(j), Path(m)


__all__ = [
    "CLASSES",
    "ROUTES",
    "LipClip",
    "LipCriteria",
    "LipEvalOptions",
    "LipGeometry",
    "evaluate_lips",
    "make_route",
    "markdown_table",
    "onehot_content",
    "real_clips",
    "score_clip",
    "synthetic_clips",
    "write_report",
]

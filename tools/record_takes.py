"""Record seeded takes of the pipeline, and compare two recordings (a refactoring must not change them).

    python tools/record_takes.py record OUT_DIR            # 14 arrays: takes of every source, embeddings, content
    python tools/record_takes.py compare BEFORE AFTER      # the largest difference per array; exit 1 above 1e-5

Run from the repository root (it reads ``checkpoints/`` and ``assets/``). Used for issue 10: the
recording made before the restructuring matched the one after it to 0.0 on every array.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, without installing it

from emoanim.diffusion import load_generator  # noqa: E402
from emoanim.pipeline import Animator, EmotionSource  # noqa: E402
from emoanim.vocabulary import REGRESSION_DIR, SAMPLE_RATE  # noqa: E402

TOLERANCE = 1e-5


def record(out: Path, checkpoints: Path = Path("checkpoints")) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    animator = Animator.from_pretrained(checkpoints, device="cpu")
    saved: list[Path] = []

    def save(name: str, array) -> None:
        saved.append(out / f"{name}.npy")
        np.save(saved[-1], np.asarray(getattr(array, "params", array)))

    reference = animator.animate("assets/happy.ogg", EmotionSource.label("happy", 3), seed=0)
    save("label_happy3", reference)
    reference.save(out / "reference.npz")  # the motion reference of a later take
    save("label_sad2_seed7_g1", animator.animate("assets/sad.mp3", EmotionSource.label("sad", 2), seed=7, guidance=1.0))
    save("text", animator.animate("assets/angry.wav", EmotionSource.from_text("quietly furious"), seed=1))
    save("audio_ref", animator.animate("assets/happy.ogg", EmotionSource.from_audio("assets/angry.wav"), seed=2))
    save("motion_ref", animator.animate("assets/surprised.flac", EmotionSource.from_motion(out / "reference.npz"),
                                        seed=3))
    save("auto", animator.animate("assets/surprised.flac", EmotionSource.auto(), seed=4, steps=10, guidance=3.0))
    save("blend", animator.animate("assets/sad.mp3", EmotionSource.label("sad", 3), seed=5,
                                   blend=(EmotionSource.from_text("a little angry"), 0.3)))
    wave = animator.read_audio("assets/angry.wav")
    save("long_windows", animator.animate(np.concatenate([wave, wave[::-1], wave]), EmotionSource.label("angry", 3),
                                          seed=6))  # several windows
    save("ddpm400", animator.animate(wave[: 2 * SAMPLE_RATE], EmotionSource.label("fearful", 2), seed=8, steps=400,
                                     sampler="ddpm"))
    space = animator.space
    save("z_label", space.embed(emotion="happy", intensity=3))
    save("z_text", space.embed(text="over the moon"))
    save("z_audio", space.embed(audio=wave))
    content = animator.content_encoder.encode(wave)
    save("content", content)
    regression = load_generator(checkpoints / REGRESSION_DIR)
    save("regression", regression.sample(content, space.embed(emotion="sad", intensity=3), 100))
    return saved


def compare(before: Path, after: Path) -> float:
    worst = 0.0
    for path in sorted(before.glob("*.npy")):
        a, b = np.load(path), np.load(after / path.name)
        diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        worst = max(worst, diff)
        print(f"{path.stem:22s} {diff:.3g}")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("record").add_argument("out", type=Path)
    p = sub.add_parser("compare")
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        print(f"recorded {len(record(args.out))} arrays in {args.out}")
        return 0
    worst = compare(args.before, args.after)
    print(f"largest difference {worst:.3g} (tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m emoanim COMMAND``. Each command is a thin layer over the package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emoanim.errors import EmoAnimError


def _add_rig_options(parser: argparse.ArgumentParser) -> None:
    from emoanim.rigs import DEFAULT_RIG, RIG_NAMES

    parser.add_argument("--rig", default=DEFAULT_RIG, help=f"face model: {' | '.join(RIG_NAMES)}")
    parser.add_argument("--avatar", default=None, help="Anny identity for the arkit rig (see `avatars`)")
    parser.add_argument("--flame-model", type=Path, default=None, help="FLAME model file (.pkl/.npz) for --rig flame")
    parser.add_argument("--num-expressions", type=int, default=50, choices=(50, 100), help="FLAME expressions")


def _add_render_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=512, help="video width and height in pixels (even)")
    parser.add_argument("--background", default="#EEF0F4", help="background colour, '#RRGGBB' or 'R,G,B'")


def _render_config(args: argparse.Namespace):
    from emoanim.render.renderer import RenderConfig, parse_color

    return RenderConfig(width=args.size, height=args.size, background=parse_color(args.background))


def _rig(args: argparse.Namespace):
    from emoanim.rigs import load_rig

    return load_rig(args.rig, avatar=args.avatar, flame_model=args.flame_model, num_expressions=args.num_expressions)


def cmd_render(args: argparse.Namespace) -> None:
    from emoanim.audio import load_audio
    from emoanim.motion import load_motion
    from emoanim.render.animate import MUX_SAMPLE_RATE, render_video

    motion = load_motion(args.motion, expect_rig=args.rig, num_expressions=args.num_expressions)
    config = _render_config(args)  # checked before the slow parts
    audio = load_audio(args.audio, sample_rate=MUX_SAMPLE_RATE) if args.audio else None
    rig = _rig(args)
    out = render_video(rig, motion.params, motion.fps, args.out, audio=audio, sample_rate=MUX_SAMPLE_RATE, config=config)
    print(f"wrote {out}")


def cmd_showcase(args: argparse.Namespace) -> None:
    from emoanim.render.showcase import render_showcase

    out = render_showcase(_rig(args), args.out, _render_config(args))
    print(f"wrote {out}")


def cmd_stills(args: argparse.Namespace) -> None:
    from emoanim.render.showcase import DOC_POSES, grid, render_poses, save_png

    rig = _rig(args)
    config = _render_config(args)
    if args.all_actions:
        poses = {name: {name: 0.35 if name.startswith("head") else 1.0} for name in rig.param_names}
        image = grid(render_poses(rig, poses, config), columns=8)
    else:
        image = grid(render_poses(rig, DOC_POSES, config), columns=len(DOC_POSES))
    print(f"wrote {save_png(image, args.out)}")


def cmd_avatars(args: argparse.Namespace) -> None:
    from emoanim.rigs.arkit import AVATARS, DEFAULT_AVATAR

    for name, avatar in AVATARS.items():
        default = " (default)" if name == DEFAULT_AVATAR else ""
        print(f"{name:8s} {avatar.description}{default}")


def cmd_bench(args: argparse.Namespace) -> None:
    from emoanim.bench import run_benchmark

    run_benchmark(args.target, seconds=args.seconds, size=args.size, avatar=args.avatar)


def cmd_data_synth(args: argparse.Namespace) -> None:
    from emoanim.data.synth import SynthConfig, build_corpus

    build_corpus(SynthConfig(out=args.out, hours=args.hours, seed=args.seed, workers=args.workers))


def cmd_data_import(args: argparse.Namespace) -> None:
    from emoanim.data.loaders import import_arkit_dataset, import_mead_flame

    common = {"fps": args.fps, "source_fps": args.source_fps, "test_speakers": args.test_speakers, "strict": args.strict}
    if args.data_command == "import-etf":
        report = import_arkit_dataset(args.src, args.out, names_file=args.names_file, **common)
    else:
        report = import_mead_flame(args.src, args.out, num_expressions=args.num_expressions, **common)
    print(report.summary())


def cmd_data_stats(args: argparse.Namespace) -> None:
    from collections import Counter

    from emoanim.data.corpus import SPLITS, Corpus

    corpus = Corpus(args.corpus)
    print(f"{args.corpus}: {len(corpus)} clips, {corpus.hours():.2f} h, rig {corpus.meta.rig}, {corpus.meta.fps} fps")
    for split in SPLITS:
        clips = corpus.clips(split)
        speakers = {c.speaker for c in clips}
        emotions = Counter(c.emotion for c in clips)
        print(f"  {split:5s} {len(clips):6d} clips {corpus.hours(split):6.2f} h {len(speakers):4d} speakers  "
              + " ".join(f"{e}:{n}" for e, n in sorted(emotions.items())))


def cmd_train_binding(args: argparse.Namespace) -> None:
    from emoanim.binding.train import BindingTrainConfig, train_binding

    train_binding(BindingTrainConfig(corpus=args.corpus, out=args.out, seed=args.seed, motion_epochs=args.motion_epochs,
                                     audio_epochs=args.audio_epochs, bind_epochs=args.bind_epochs))


def cmd_evaluate_binding(args: argparse.Namespace) -> None:
    from emoanim.binding.space import EmotionSpace
    from emoanim.eval.binding import evaluate_binding, markdown_table, write_report

    space = EmotionSpace.from_pretrained(args.space)
    args.out.mkdir(parents=True, exist_ok=True)
    results = evaluate_binding(space, args.corpus, args.split, plot=args.out / "emotion_space.png")
    json_path, md_path = write_report(results, args.out)
    print(markdown_table(results))
    print(f"wrote {json_path}, {md_path}, {results['plot']}")


def cmd_evaluate_corpus(args: argparse.Namespace) -> None:
    import json

    from emoanim.data.corpus import Corpus
    from emoanim.eval.corpus import corpus_motion_checks

    print(json.dumps(corpus_motion_checks(Corpus(args.corpus), every=args.every), indent=1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emoanim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render a motion file (and its audio) to an MP4")
    p.add_argument("--motion", type=Path, required=True, help="motion .npz (params, names, fps, rig)")
    p.add_argument("--audio", type=Path, default=None, help="speech to mux in; the video lasts as long as it")
    p.add_argument("--out", type=Path, required=True, help="output .mp4")
    _add_rig_options(p)
    _add_render_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("showcase", help="an MP4 raising every rig parameter in turn, labelled")
    p.add_argument("--out", type=Path, required=True)
    _add_rig_options(p)
    _add_render_options(p)
    p.set_defaults(func=cmd_showcase)

    p = sub.add_parser("stills", help="a PNG strip of key poses (or --all-actions: a grid of every action)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--all-actions", action="store_true")
    _add_rig_options(p)
    _add_render_options(p)
    p.set_defaults(func=cmd_stills, size=256)

    p = sub.add_parser("avatars", help="list the named Anny identities")
    p.set_defaults(func=cmd_avatars)

    data = sub.add_parser("data", help="build or inspect training corpora").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("synth", help="build the synthetic emotional talking-face corpus")
    p.add_argument("--out", type=Path, required=True, help="corpus folder (resumes if it exists)")
    p.add_argument("--hours", type=float, default=6.0, help="hours of speech to synthesize")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="parallel processes")
    p.set_defaults(func=cmd_data_synth)
    for name, help_text in (
        ("import-etf", "import an ARKit blendshape dataset (EmoTalk 3D-ETF layout, or Live Link Face CSVs)"),
        ("import-mead", "import EMOCA-style FLAME reconstructions of MEAD"),
    ):
        p = data.add_parser(name, help=help_text)
        p.add_argument("src", type=Path, help="dataset folder")
        p.add_argument("out", type=Path, help="corpus folder to write (resumes if it exists)")
        p.add_argument("--fps", type=float, default=25.0, help="corpus frame rate")
        p.add_argument("--source-fps", type=float, default=30.0, help="frame rate of the dataset's motion")
        p.add_argument("--test-speakers", nargs="*", default=None, help="speaker ids held out for testing")
        p.add_argument("--strict", action="store_true", help="stop at the first bad clip instead of skipping it")
        if name == "import-etf":
            p.add_argument("--names-file", type=Path, default=None, help="column names of the .npy files")
        else:
            p.add_argument("--num-expressions", type=int, default=50, choices=(50, 100))
        p.set_defaults(func=cmd_data_import)
    p = data.add_parser("stats", help="summarise a corpus folder")
    p.add_argument("corpus", type=Path)
    p.set_defaults(func=cmd_data_stats)

    train = sub.add_parser("train", help="train the models").add_subparsers(dest="train_command", required=True)
    p = train.add_parser("binding", help="train the emotion space (motion/audio encoders, adapters)")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("checkpoints/emotion_space"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--motion-epochs", type=int, default=25)
    p.add_argument("--audio-epochs", type=int, default=25)
    p.add_argument("--bind-epochs", type=int, default=40)
    p.set_defaults(func=cmd_train_binding)

    evaluate = sub.add_parser("evaluate", help="evaluate the models").add_subparsers(dest="eval_command", required=True)
    p = evaluate.add_parser("binding", help="emotion-space metrics on the test split")
    p.add_argument("--space", type=Path, default=Path("checkpoints/emotion_space"))
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.set_defaults(func=cmd_evaluate_binding)

    p = evaluate.add_parser("corpus", help="blink rate and lip closure of a corpus's motion")
    p.add_argument("corpus", type=Path)
    p.add_argument("--every", type=int, default=20, help="pose every N-th clip on the rig for the lip checks")
    p.set_defaults(func=cmd_evaluate_corpus)

    p = sub.add_parser("bench", help="speed and memory benchmarks")
    p.add_argument("target", choices=("render",))
    p.add_argument("--seconds", type=float, default=20.0, help="length of the benchmark clip")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--avatar", default=None)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except EmoAnimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0

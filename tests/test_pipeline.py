"""The pipeline (``emoanim.pipeline.Animator``) end to end, its CLI (``generate``, ``bench e2e``) and
its errors. Small and fast: 128 px videos, two sampling steps, the 2-3 s clips in ``assets/``."""

from __future__ import annotations

import functools
import wave
from pathlib import Path

import numpy as np
import pytest

from emoanim.audio import save_wav
from emoanim.errors import EmoAnimError
from emoanim.vocabulary import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_STEPS
from tools.probe import probe_media, read_frames

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
CLIP = ASSETS / "happy.ogg"
SIZE = 128
STEPS = 2


def checkpoint_folder() -> Path:
    """The shipped checkpoints: the tests run the model users get."""
    return ROOT / "checkpoints"


@functools.lru_cache(maxsize=1)
def _animator():
    from emoanim.pipeline import Animator, AnimatorConfig

    return Animator.from_pretrained(checkpoint_folder(), device="cpu", config=AnimatorConfig(size=SIZE, steps=STEPS))


def tiny_animator():
    """One shared Animator (128 px, 2 steps by default) for the pipeline and app tests."""
    return _animator()


@pytest.fixture(scope="module")
def animator():
    return tiny_animator()


def clip_seconds(path: Path) -> float:
    from emoanim.audio.io import load_audio

    return load_audio(path, 16000).size / 16000


def assert_playable(path: Path, seconds: float, size: int = SIZE) -> None:
    info = probe_media(path)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (size, size)
    assert info.has_audio and info.audio_codec == "aac"
    frame = 1 / 25
    assert abs(info.audio_duration - seconds) <= frame
    assert abs(info.video_duration - seconds) <= frame


@pytest.fixture(scope="module")
def reference_files(animator, tmp_path_factory):
    """A reference motion as .npz, Live Link Face .csv and .json (made by the pipeline itself)."""
    from emoanim.motion import export_json
    from emoanim.pipeline import EmotionSource

    folder = tmp_path_factory.mktemp("reference")
    motion = animator.animate(ASSETS / "sad.mp3", EmotionSource.label("sad", 3), steps=STEPS)
    exports = animator.export(motion, folder, stem="ref")
    return {"npz": exports.npz, "csv": exports.csv, "json": export_json(motion, folder / "ref.json")}


SOURCES = {
    "label": lambda refs: ("label", {"emotion": "angry", "intensity": 3}),
    "text": lambda refs: ("text", {"text": "quietly furious"}),
    "audio": lambda refs: ("audio", {"path": ASSETS / "sad.mp3"}),
    "motion-npz": lambda refs: ("motion", {"path": refs["npz"]}),
    "motion-csv": lambda refs: ("motion", {"path": refs["csv"]}),
    "auto": lambda refs: ("auto", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SOURCES))
def test_each_emotion_source_end_to_end(animator, reference_files, tmp_path, name):
    from emoanim.pipeline import EmotionSource, Sampling

    kind, fields = SOURCES[name](reference_files)
    out = tmp_path / "talk.mp4"
    result = animator.generate(CLIP, EmotionSource(kind, **fields), out, motion_out=tmp_path / "talk.npz")
    seconds = clip_seconds(CLIP)
    assert result.video == out
    assert_playable(out, seconds)
    assert result.motion.rig == "arkit" and result.motion.fps == 25.0
    assert result.motion.num_frames == int(np.ceil(seconds * 25 - 1e-6))
    assert np.isfinite(result.motion.params).all()
    assert abs(np.linalg.norm(result.style) - 1) < 1e-4
    assert (tmp_path / "talk.npz").exists()
    stages = {"audio read", "emotion embed", "content encode", "sampling", "rendering", "encoding/mux"}
    assert stages <= set(result.timings)
    assert result.sampling == Sampling(DEFAULT_GUIDANCE, STEPS, 0, DEFAULT_SAMPLER)  # the config's, for None


@pytest.mark.slow
def test_blend_json_reference_stereo_48k_wav_and_progress(animator, reference_files, tmp_path):
    from emoanim.pipeline import EmotionSource

    sr = 48000
    mono = _speech_like(2.0, sr)
    path = tmp_path / "stereo.wav"
    save_wav(path, np.stack([mono, 0.5 * mono], axis=1), sr)
    events: list[tuple[float, str]] = []
    result = animator.generate(path, EmotionSource.from_motion(reference_files["json"]), tmp_path / "b.mp4",
                               blend=(EmotionSource.label("surprised", 2), 0.4),
                               progress=lambda f, s: events.append((f, s)))
    assert_playable(result.video, 2.0)
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = " | ".join(s for _, s in events)
    for stage in ("reading audio", "embedding emotion", f"sampling step {STEPS}/{STEPS}", "rendering frame",
                  "encoding video"):
        assert stage in stages
    blended = animator.embed_emotion(EmotionSource.label("happy", 3), (EmotionSource.label("sad", 3), 0.5))
    happy = animator.embed_emotion(EmotionSource.label("happy", 3))
    sad = animator.embed_emotion(EmotionSource.label("sad", 3))
    assert blended @ happy > happy @ sad and blended @ sad > happy @ sad


@pytest.mark.slow
def test_seed_takes_and_array_input(animator):
    from emoanim.audio.io import load_audio
    from emoanim.pipeline import EmotionSource

    wave16 = load_audio(CLIP, 16000)
    source = EmotionSource.label("happy", 2)
    a = animator.animate(wave16, source, seed=1)
    b = animator.animate(CLIP, source, seed=1)
    c = animator.animate(CLIP, source, seed=2)
    np.testing.assert_allclose(a.params, b.params, atol=1e-5)
    assert not np.allclose(a.params, c.params)


def test_sampler_is_explicit(animator):
    from emoanim.pipeline import EmotionSource

    wave = animator.read_audio(CLIP)[:16000]  # 1 s: 25 frames, one window
    source = EmotionSource.label("happy", 2)
    default = animator.animate(wave, source, seed=1)
    ddim = animator.animate(wave, source, seed=1, sampler="ddim")
    ddpm = animator.animate(wave, source, seed=1, sampler="ddpm")
    np.testing.assert_array_equal(default.params, ddim.params)  # the default sampler is DDIM
    assert np.abs(ddpm.params - ddim.params).max() > 1e-3  # the ancestral sampler is another one
    with pytest.raises(EmoAnimError, match="unknown sampler 'euler'"):
        animator.animate(wave, source, sampler="euler")


def test_check_sampling_is_the_one_check():
    from emoanim.pipeline import AnimatorConfig, Sampling, check_sampling

    assert check_sampling(2, 25.0, 7.0, "ddpm") == Sampling(2.0, 25, 7, "ddpm")  # whole floats are whole numbers
    config = AnimatorConfig()
    assert (config.guidance, config.steps, config.sampler) == (DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_SAMPLER)
    for args, message in [((-1, 25, 0, "ddim"), "guidance weight"), (("x", 25, 0, "ddim"), "must be a number"),
                          ((2, 0, 0, "ddim"), "sampling steps"), ((2, MAX_STEPS + 1, 0, "ddim"), "sampling steps"),
                          ((2, 2.5, 0, "ddim"), "whole number"), ((2, 25, -1, "ddim"), "seed"),
                          ((2, 25, 2**32, "ddim"), "seed"), ((2, 25, 0, None), "unknown sampler")]:
        with pytest.raises(EmoAnimError, match=message):
            check_sampling(*args)
    with pytest.raises(EmoAnimError, match="sampling steps"):  # configs are checked when made
        AnimatorConfig(steps=0)


def test_background_colour_shows_in_the_video_corners(animator, tmp_path):
    from emoanim.motion import Motion
    from emoanim.pipeline import Animator, AnimatorConfig

    background = (0.1, 0.5, 0.9)
    runner = Animator(animator.space, animator.content_encoder, animator.generator,
                      AnimatorConfig(size=64, background=background))
    names = tuple(animator.generator.param_names)
    video = runner.render(Motion(np.zeros((5, len(names)), np.float32), names, 25.0, "arkit"), None,
                          tmp_path / "bg.mp4")
    frame = next(read_frames(video, [0])).astype(float)
    expected = 255 * np.array(background)
    for corner in (frame[1, 1], frame[1, -2], frame[-2, 1], frame[-2, -2]):
        assert np.abs(corner - expected).max() <= 8, (corner, expected)  # H.264's 4:2:0 colour rounding
    with pytest.raises(EmoAnimError, match="from 0 to 1"):  # 0-255 values were silently clipped to white
        AnimatorConfig(background=(25, 128, 230))


@pytest.mark.slow
def test_export_files(animator, tmp_path):
    from PIL import Image

    from emoanim.motion import load_csv, load_motion
    from emoanim.pipeline import EmotionSource

    motion = animator.animate(CLIP, EmotionSource.from_text("cheerful"))
    exports = animator.export(motion, tmp_path / "out")
    np.testing.assert_allclose(load_motion(exports.npz).params, motion.params)
    assert load_csv(exports.csv).num_frames == motion.num_frames
    assert Image.open(exports.plot).size[0] >= 600
    from pygltflib import GLTF2

    glb = GLTF2().load_binary(str(exports.glb))  # the take as glTF beside them: one key per frame
    assert glb.accessors[glb.animations[0].samplers[0].input].count == motion.num_frames


def test_plot_curves_draws_labelled_takes(tmp_path):
    from PIL import Image

    from emoanim.motion import Motion
    from emoanim.motion.plots import channel_panels, plot_curves
    from emoanim.rigs import rig_param_names

    names = rig_param_names("arkit")
    params = np.zeros((50, len(names)), np.float32)
    params[:, names.index("jawOpen")] = np.linspace(0, 1, 50)
    params[:, names.index("headYaw")] = 0.2
    first = Motion(params, names, 25.0, "arkit")
    second = Motion(params[::-1].copy(), names, 25.0, "arkit")
    panels = channel_panels(["jawOpen", "headYaw"])
    one = plot_curves(first, tmp_path / "one.png", panels)
    two = plot_curves({"generated": first, "ground truth": second}, tmp_path / "two.png", panels)
    assert Image.open(one).size == Image.open(two).size == (800, 260)  # 8 in wide, 1.3 in per panel, 100 dpi
    pixels = [np.asarray(Image.open(p).convert("L"), float) for p in (one, two)]
    assert np.abs(pixels[0] - pixels[1]).mean() > 1  # the second take and the legend are drawn


def _speech_like(seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture()
def bad_inputs(tmp_path):
    silent = tmp_path / "silent.wav"
    save_wav(silent, np.zeros(32000, np.float32), 16000)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 50)
    long = tmp_path / "long.wav"
    save_wav(long, _speech_like(4.0), 16000)
    pickled = tmp_path / "evil.npz"
    np.savez(pickled, params=np.array([object()], dtype=object), names=np.array(["x"]), fps=25.0, rig="arkit")
    return {"silent": silent, "garbage": garbage, "long": long, "pickled": pickled}


@pytest.mark.parametrize(
    "case, message",
    [
        ("silent", "silent"),
        ("garbage", "unreadable or corrupt"),
        ("missing", "not found"),
        ("long", "limit is 3 s"),
        ("empty-text", "emotion text is empty"),
        ("unknown-emotion", "unknown emotion"),
        ("motion-wrong-kind", "not a motion file"),
        ("motion-pickle", "pickle"),
        ("reference-audio-silent", "silent"),
        ("guidance", "guidance weight"),
        ("size", "even number"),
        ("avatar", "unknown avatar"),
    ],
)
def test_errors_are_one_line_and_leave_nothing(animator, bad_inputs, tmp_path, case, message):
    from emoanim.pipeline import Animator, AnimatorConfig, EmotionSource

    audio, source, options = CLIP, EmotionSource.label("happy"), {}
    runner = animator
    if case in ("silent", "garbage", "long"):
        audio = bad_inputs[case]
    if case == "missing":
        audio = tmp_path / "nope.wav"
    if case == "long":
        runner = Animator(animator.space, animator.content_encoder, animator.generator,
                          AnimatorConfig(max_seconds=3, size=SIZE))
    if case == "empty-text":
        source = EmotionSource.from_text("   ")
    if case == "unknown-emotion":
        source = EmotionSource.label("hangry")
    if case == "motion-wrong-kind":
        source = EmotionSource.from_motion(ASSETS / "angry.wav")
    if case == "motion-pickle":
        source = EmotionSource.from_motion(bad_inputs["pickled"])
    if case == "reference-audio-silent":
        source = EmotionSource.from_audio(bad_inputs["silent"])
    if case == "guidance":
        options["guidance"] = -1
    if case == "size":
        options["size"] = 127
    if case == "avatar":
        options["avatar"] = "nobody"
    out = tmp_path / "x.mp4"
    with pytest.raises(EmoAnimError, match=message) as caught:
        runner.generate(audio, source, out, motion_out=tmp_path / "x.npz", **options)
    assert "\n" not in str(caught.value)
    assert not out.exists() and not (tmp_path / "x.npz").exists()
    assert not list(tmp_path.glob(".*partial*"))


# ---- command line ----------------------------------------------------------------------------


def run_cli(capsys, *args):
    from emoanim.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_cli_generate(tmp_path, capsys):
    out, motion = tmp_path / "cli.mp4", tmp_path / "cli.npz"
    code, stdout, err = run_cli(capsys, "generate", "--audio", ASSETS / "surprised.flac", "--out", out, "--motion-out",
                                motion, "--emotion", "surprised", "--intensity", "3", "--guidance", "2.5", "--steps",
                                STEPS, "--sampler", "ddim", "--seed", 3, "--avatar", "maya", "--size", SIZE, "--device", "cpu",
                                "--checkpoints", checkpoint_folder())
    assert code == 0, err
    assert f"wrote {out}" in stdout
    assert_playable(out, clip_seconds(ASSETS / "surprised.flac"))
    from emoanim.motion import load_motion

    assert load_motion(motion).num_frames == probe_media(out).num_video_frames


def test_cli_emotion_timeline(tmp_path, capsys):
    from emoanim.motion import load_motion

    out, motion = tmp_path / "timeline.mp4", tmp_path / "timeline.npz"
    code, stdout, err = run_cli(capsys, "generate", "--audio", CLIP, "--out", out, "--motion-out", motion,
                                "--emotion-at", "0:happy:3", "--emotion-at", "1.2:text:on the verge of tears",
                                "--steps", STEPS, "--size", SIZE, "--device", "cpu", "--checkpoints",
                                checkpoint_folder())
    assert code == 0, err
    assert "emotion: 'on the verge of tears' read as sad" in stdout  # what the words were read as, for the user
    assert_playable(out, clip_seconds(CLIP))
    # The video is cut to the audio (2.646 s = 66.2 frames): its last, partial frame may be dropped.
    assert 0 <= load_motion(motion).num_frames - probe_media(out).num_video_frames <= 1


def test_cli_generate_flame_take(tmp_path, capsys):
    """--rig flame: the take retargeted onto a (generated) FLAME model, rendered on it, saved as a sequence."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    import flame_fixture
    from emoanim.motion.flame_sequence import FlameSequence

    model = flame_fixture.write_npz(tmp_path / "flame.npz", flame_fixture.make_fixture(50))
    out, seq, motion = tmp_path / "flame.mp4", tmp_path / "take_flame.npz", tmp_path / "take.npz"
    code, stdout, err = run_cli(capsys, "generate", "--audio", CLIP, "--out", out, "--emotion", "happy", "--rig", "flame",
                                "--flame-model", model, "--flame-out", seq, "--motion-out", motion, "--steps", STEPS,
                                "--size", SIZE, "--device", "cpu", "--checkpoints", checkpoint_folder())
    assert code == 0, err
    assert_playable(out, clip_seconds(CLIP))
    from emoanim.motion import load_motion

    flame, arkit = FlameSequence.load(seq), load_motion(motion)
    assert flame.num_frames == arkit.num_frames and flame.exp.shape[1] == 50 and flame.fps == arkit.fps
    jaw_open = arkit.params[:, arkit.names.index("jawOpen")]
    assert np.corrcoef(jaw_open, flame.jaw[:, 0])[0, 1] > 0.8  # the FLAME jaw opens with the ARKit one
    assert list(tmp_path.glob("flame.emoanim-arkit-*.npz"))  # the fitted map, kept beside the model


@pytest.mark.parametrize("args, message", [
    (["--flame-out", "x.npz"], "needs the FLAME face"),
    (["--rig", "flame"], "needs the FLAME model file"),
    (["--rig", "flame", "--flame-model", "/nonexistent/generic_model.pkl"], "FLAME model file not found"),
])
def test_cli_generate_flame_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.delenv("EMOANIM_FLAME_MODEL", raising=False)
    argv = ["generate", "--audio", CLIP, "--out", tmp_path / "f.mp4", "--emotion", "happy", "--steps", STEPS, "--size",
            SIZE, "--device", "cpu", "--checkpoints", checkpoint_folder(),
            *[str(tmp_path / a) if a.endswith(".npz") else a for a in args]]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


def test_read_sources_are_reported(animator):
    from emoanim.pipeline import EmotionSource

    result = animator.generate(CLIP, EmotionSource.from_text("livid"), None, steps=STEPS,
                               blend=(EmotionSource.auto(), 0.3))
    assert len(result.readings) == 2
    assert result.readings[0].startswith("'livid' read as ")  # (which emotion: test_text_backbones)
    assert result.readings[1].startswith("the input speech ")  # read as an emotion, or neutral when unsure


def test_timeline_styles_every_frame(animator):
    from emoanim.pipeline import EmotionSource

    keys = [(0.0, EmotionSource.label("happy", 3)), (1.0, EmotionSource.label("sad", 3))]
    result = animator.generate(CLIP, keys, None, steps=STEPS)
    style = result.style
    assert style.shape == (result.motion.num_frames, 256) and np.allclose(np.linalg.norm(style, axis=1), 1, atol=1e-4)
    happy, sad = (animator.embed_emotion(s) for _, s in keys)
    assert np.allclose(style[0], happy, atol=1e-5) and np.allclose(style[-1], sad, atol=1e-5)
    with pytest.raises(EmoAnimError, match="blend and an emotion timeline"):
        animator.animate(CLIP, keys, steps=STEPS, blend=(EmotionSource.label("angry"), 0.5))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--emotion", "happy", "--auto"], "not allowed with argument"),
        ([], "one of the arguments"),
        (["--text", "calm", "--intensity", "3"], "--intensity goes with --emotion"),
        (["--emotion", "happy", "--size", "99"], "even number"),
        (["--emotion", "happy", "--audio-is-silent"], "silent"),
        (["--text", ""], "emotion text is empty"),
        (["--reference-motion", "assets/angry.wav"], "not a motion file"),
        (["--emotion", "happy", "--sampler", "euler"], "invalid choice: 'euler'"),
        (["--emotion", "happy", "--max-seconds", "0"], "max_seconds must be a positive number"),
        (["--emotion", "happy", "--transcript", "@/nonexistent/words.txt"], "cannot read the transcript file"),
        (["--emotion", "happy", "--transcript", "word " * 5000], "the transcript is 24999 characters long"),
        (["--emotion-at", "0:happy", "--emotion-at", "30:sad"], "after the end of the speech"),
        (["--emotion-at", "0:happy:4"], "intensity"),
        (["--emotion-at", "0:elated"], "elated"),
        (["--emotion-at", "0:happy", "--emotion-at", "0:sad"], "same time"),
        (["--emotion-at", "0:happy", "--emotion", "sad"], "not allowed with argument"),
    ],
)
def test_cli_generate_errors(tmp_path, capsys, args, message):
    out = tmp_path / "bad.mp4"
    audio = CLIP
    if "--audio-is-silent" in args:
        args = [a for a in args if a != "--audio-is-silent"]
        audio = tmp_path / "silent.wav"
        save_wav(audio, np.zeros(16000, np.float32), 16000)
    argv = ["generate", "--audio", audio, "--out", out, "--steps", STEPS, "--size", SIZE, "--device", "cpu",
            "--checkpoints", checkpoint_folder(), *[ROOT / a if a.startswith("assets/") else a for a in args]]
    try:
        code, _, err = run_cli(capsys, *argv)
    except SystemExit as exc:  # argparse: usage + one error line, exit 2
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    assert message in err
    lines = [line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]
    assert len(lines) == 1
    assert not out.exists()


def test_check_transcript_cleans_and_limits():
    from emoanim.pipeline import check_transcript

    assert check_transcript(None) is None and check_transcript(" \n\t ") is None  # empty: recognise the speech
    assert check_transcript("  Bob\x00 bought\r\n a  map ") == "Bob bought a map"  # no control characters
    with pytest.raises(EmoAnimError, match="must be text"):
        check_transcript(42)
    with pytest.raises(EmoAnimError, match="limit is 20000"):
        check_transcript("a" * 20_001)


@pytest.mark.slow
def test_cli_transcript_file_drives_the_lips_and_is_reported(tmp_path, capsys):
    real = ROOT / "tests" / "data" / "librivox_ss01_0870.wav"
    words = tmp_path / "words.txt"
    words.write_text((ROOT / "tests" / "data" / "librivox_ss01_0870.txt").read_text(), encoding="utf-8")
    out = tmp_path / "real.mp4"
    code, stdout, err = run_cli(capsys, "generate", "--audio", real, "--out", out, "--emotion", "neutral",
                                "--transcript", f"@{words}", "--steps", STEPS, "--size", SIZE, "--device", "cpu")
    assert code == 0, err
    assert "lips from: your transcript 'and mister john dashwood" in stdout.lower()
    assert_playable(out, clip_seconds(real))


@pytest.mark.slow
def test_bench_e2e_runs(capsys):
    from emoanim.bench import run_benchmark

    report = run_benchmark("e2e", seconds=1.0, steps=1, size=64, checkpoints=checkpoint_folder(), device="cpu")
    printed = capsys.readouterr().out
    for key in ("audio_read_s", "emotion_embed_s", "content_encode_s", "sampling_s", "rendering_s",
                "encoding_mux_s", "total_s", "peak_rss_mib"):
        assert key in report and key in printed
    assert report["frames"] == 25


def test_example_assets_are_small_speech():
    clips = sorted(p for p in ASSETS.iterdir() if p.suffix in (".ogg", ".mp3", ".wav", ".flac"))
    assert len(clips) >= 3
    assert sum(p.stat().st_size for p in clips) < 500 * 1024
    for clip in clips:
        assert 2.0 <= clip_seconds(clip) <= 4.0
    with wave.open(str(ASSETS / "angry.wav")) as w:
        assert w.getframerate() == 16000

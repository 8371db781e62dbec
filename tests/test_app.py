"""The Gradio app: its named API through ``gradio_client``, and the page in a real headless browser
(Debian's ``chromium`` driven by Playwright). One in-process server at 128 px, two sampling steps."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

gr = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

from emoanim.audio import save_wav  # noqa: E402
from emoanim.audio.io import load_audio  # noqa: E402
from emoanim.pipeline import AnimatorConfig  # noqa: E402
from emoanim.vocabulary import DEFAULT_GUIDANCE, DEFAULT_STEPS  # noqa: E402
from tools.browser import (  # noqa: E402
    MISSING, find_chromium, launch_chromium, serve, set_steps, upload_speech, wait_for_video)
from tools.probe import probe_media  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
sys.path.insert(0, str(ROOT))  # app.py lives at the repository root
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_pipeline import STEPS, assert_playable, clip_seconds, tiny_animator  # noqa: E402

BROWSER_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def server():
    import app

    with serve(app.build_demo(tiny_animator(), size=128), allowed_paths=[ASSETS]) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False, download_files=str(Path(os.environ.get("TMPDIR", "/tmp"))))


def _args(audio, **overrides):
    from tools.load_test import generate_arguments

    return generate_arguments(audio, **{"steps": STEPS, **overrides})


@pytest.mark.slow
def test_api_generate_returns_playable_mp4(client):
    video, npz, csv, glb, preview, plot, flame, info = client.predict(
        **_args(ASSETS / "sad.mp3", blend_weight=0.3, guidance=1.5), api_name="/generate")
    video_path = video["video"] if isinstance(video, dict) else video
    assert_playable(Path(video_path), clip_seconds(ASSETS / "sad.mp3"))
    assert Path(npz).suffix == ".npz" and Path(csv).suffix == ".csv" and Path(plot).suffix == ".png"
    assert Path(glb).read_bytes()[:4] == b"glTF" and Path(preview).suffix == ".glb"  # download and 3D preview
    assert flame is None  # (no FLAME model on this server)
    with np.load(npz, allow_pickle=False) as archive:
        assert archive["params"].shape[0] == probe_media(video_path).num_video_frames
    assert "happy" in info and "blended 30%" in info


@pytest.mark.slow
def test_api_reference_motion_and_audio_sources(client, tmp_path):
    _, npz, *_ = client.predict(**_args(ASSETS / "happy.ogg"), api_name="/generate")
    video, *_ = client.predict(**_args(ASSETS / "happy.ogg", source_kind="Borrow from a motion file",
                                       ref_motion=handle_file(npz)), api_name="/generate")
    assert probe_media(video["video"] if isinstance(video, dict) else video).has_audio
    video, *_ = client.predict(**_args(ASSETS / "angry.wav", source_kind="Borrow from a voice clip",
                                       ref_audio=handle_file(str(ASSETS / "sad.mp3"))), api_name="/generate")
    assert probe_media(video["video"] if isinstance(video, dict) else video).has_audio


@pytest.mark.slow
def test_api_face_source_and_text_reading(client):
    pytest.importorskip("mediapipe")
    faces = ROOT / "data" / "real_faces"
    if not (faces / "posed_happy.jpg").is_file():
        from emoanim.data.realfaces import build_face_set

        build_face_set(faces)
    video, *_, info = client.predict(**_args(ASSETS / "happy.ogg", source_kind="Borrow from a face",
                                             face_photo=handle_file(str(faces / "posed_happy.jpg"))),
                                     api_name="/generate")
    assert probe_media(video["video"] if isinstance(video, dict) else video).has_audio
    assert "face posed_happy.jpg" in info and "nearest: happy" in info
    *_, info = client.predict(**_args(ASSETS / "happy.ogg", source_kind="Describe it in words", text="livid"),
                              api_name="/generate")
    assert "Emotion: &#x27;livid&#x27; read as angry" in info or "Emotion: 'livid' read as angry" in info


def test_api_emotion_over_time(client):
    table = {"headers": ["time (s)", "emotion", "intensity", "or in words"],
             "data": [[0, "happy", 3, ""], [1.5, "sad", 3, ""], [2.0, "", None, "quietly furious"]]}
    video, npz, *_, info = client.predict(**_args(ASSETS / "happy.ogg", source_kind="Emotion over time",
                                                    timeline=table), api_name="/generate")
    assert probe_media(video["video"] if isinstance(video, dict) else video).has_audio
    assert "timeline 0 s happy (intensity 3) → 1.5 s sad (intensity 3) → 2 s text" in info


@pytest.mark.parametrize(
    "case, message",
    [("silent", "silent"), ("late-keyframe", "after the end of the speech"), ("bad-time", "not a time"), ("empty-text", "emotion text is empty"), ("motion-wrong-kind", "Invalid file type"),
     ("no-reference", "no reference voice clip"), ("no-face", "no face: take a photo")],
)
def test_api_errors_are_messages(client, tmp_path, case, message):
    from gradio_client.exceptions import AppError

    audio, overrides = ASSETS / "happy.ogg", {}
    if case == "silent":
        audio = tmp_path / "silent.wav"
        save_wav(audio, np.zeros(32000, np.float32), 16000)
    if case == "empty-text":
        overrides = {"source_kind": "Describe it in words", "text": "  "}
    if case == "motion-wrong-kind":
        overrides = {"source_kind": "Borrow from a motion file", "ref_motion": handle_file(str(ASSETS / "sad.mp3"))}
    if case == "no-reference":
        overrides = {"source_kind": "Borrow from a voice clip"}
    if case == "no-face":
        overrides = {"source_kind": "Borrow from a face"}
    if case in ("late-keyframe", "bad-time"):
        time = 30 if case == "late-keyframe" else "soon"
        overrides = {"source_kind": "Emotion over time",
                     "timeline": {"headers": ["time (s)", "emotion", "intensity", "or in words"],
                                  "data": [[0, "happy", 2, ""], [time, "sad", 2, ""]]}}
    with pytest.raises(AppError, match=message) as caught:
        client.predict(**_args(audio, **overrides), api_name="/generate")
    assert "Traceback" not in str(caught.value)


def test_request_folders_are_cleaned_up(tmp_path):
    import app

    outputs = app.Outputs(keep_s=0)
    first = outputs.new()
    (first / "x.mp4").write_bytes(b"0")
    os.utime(first, (0, 0))
    second = outputs.new()  # sweeps folders older than keep_s
    assert not first.exists() and second.exists()
    shutil.rmtree(outputs.root)


def test_a_new_server_deletes_the_folders_of_dead_ones_and_not_of_live_ones(tmp_path):
    import app

    live = app.Outputs(parent=tmp_path)  # holds its lock
    (live.new() / "take.mp4").write_bytes(b"0")
    dead = tmp_path / "run-dead"  # a killed server's: its lock file is there, nobody holds it
    (dead / "req_x").mkdir(parents=True)
    (dead / app.LOCK_NAME).touch()
    (dead / "req_x" / ".emoanim.0.partial.mp4").write_bytes(b"0")
    starting = tmp_path / "run-starting"  # a server between making its folder and its lock
    starting.mkdir()
    new = app.Outputs(parent=tmp_path)
    assert new.abandoned == [dead] and not dead.exists()
    assert live.root.exists() and list(live.root.glob("req_*/take.mp4")) and starting.exists()
    os.utime(starting, (0, 0))  # ... that died there, long ago
    assert app.Outputs(parent=tmp_path).abandoned == [starting]
    live.close()
    assert not live.root.exists()


def test_defaults_come_from_one_place(monkeypatch):
    import app

    demo = app.build_demo(lambda: None, examples=False)  # never called: nothing is loaded
    values = {c["props"].get("elem_id"): c["props"].get("value") for c in demo.config["components"]}
    assert (values["guidance"], values["steps"]) == (DEFAULT_GUIDANCE, DEFAULT_STEPS)
    monkeypatch.setenv("EMOANIM_SIZE", "256")
    monkeypatch.delenv("EMOANIM_MAX_SECONDS", raising=False)
    config = app.default_config()
    assert config.size == 256 and config.max_seconds == AnimatorConfig().max_seconds


# ---- a real browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = find_chromium()
    if executable is None:
        pytest.skip(MISSING)
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p, executable)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(server)
    page.locator("#generate").wait_for()
    yield page
    context.close()


@pytest.mark.slow
def test_browser_generate_plays_video(page, tmp_path):
    upload_speech(page, ASSETS / "happy.ogg")
    page.locator("#emotion input").click()
    page.get_by_role("option", name="surprised").click()
    page.locator("#intensity").get_by_text("3").click()
    slider = page.locator("#guidance input[type=range]")
    slider.fill("2.6")  # moves the slider (input + change events)
    assert page.locator("#guidance input[type=number]").input_value() == "2.6"
    set_steps(page, STEPS)
    page.locator("#generate").click()
    wait_for_video(page, min_duration=2, timeout_ms=BROWSER_TIMEOUT_MS)
    played = page.evaluate(
        """async () => {
            const v = document.querySelector('#result-video video');
            v.muted = true;
            await v.play();
            const t0 = v.currentTime;
            await new Promise(r => setTimeout(r, 700));
            return {t0, t1: v.currentTime, paused: v.paused, width: v.videoWidth, duration: v.duration};
        }""")
    assert played["t1"] > played["t0"] and not played["paused"], played
    assert played["width"] == 128
    assert abs(played["duration"] - clip_seconds(ASSETS / "happy.ogg")) < 0.1
    info = page.locator("#info").inner_text()
    assert "surprised (intensity 3)" in info and "guidance 2.6" in info
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)


@pytest.mark.parametrize("case", ["silent-audio", "empty-text"])
def test_browser_shows_error_messages(page, tmp_path, case):
    if case == "silent-audio":
        speech, message = tmp_path / "silent.wav", "silent (below -50 dBFS)"
        save_wav(speech, np.zeros(32000, np.float32), 16000)
    else:
        speech, message = ASSETS / "angry.wav", "the emotion text is empty"
    upload_speech(page, speech)
    set_steps(page, 1)
    if case == "empty-text":
        page.locator("#source-kind").get_by_text("Describe it in words").click()
        page.locator("#emotion-text textarea").fill("")
    page.locator("#generate").click()
    page.get_by_text(message).first.wait_for(timeout=BROWSER_TIMEOUT_MS)
    assert "Traceback" not in page.content()
    assert page.locator("#result-video video").count() == 0


@pytest.mark.slow
def test_flame_face_is_offered_when_the_server_has_a_flame_model(tmp_path):
    """With a FLAME model on the server the page offers the FLAME face, and the API returns the take's
    FLAME sequence beside the video (a generated FLAME-format model stands in for the licensed one)."""
    import app
    import flame_fixture
    from emoanim.motion.flame_sequence import FlameSequence
    from emoanim.pipeline import Animator

    model = flame_fixture.write_npz(tmp_path / "flame.npz", flame_fixture.make_fixture(50))
    shared = tiny_animator()
    config = AnimatorConfig(size=128, steps=STEPS, flame_model=model)
    animator = Animator(shared.space, shared.content_encoder, shared.generator, config)
    with serve(app.build_demo(animator, size=128, examples=False), allowed_paths=[ASSETS]) as url:
        client = Client(url, verbose=False, download_files=str(tmp_path))
        video, npz, *_, flame, info = client.predict(**_args(ASSETS / "happy.ogg", face=app.FLAME_FACE),
                                                   api_name="/generate")
    sequence = FlameSequence.load(flame)
    with np.load(npz, allow_pickle=False) as archive:
        assert sequence.num_frames == archive["params"].shape[0] and sequence.exp.shape[1] == 50
    assert_playable(Path(video["video"] if isinstance(video, dict) else video), clip_seconds(ASSETS / "happy.ogg"), 128)


@pytest.mark.parametrize("case, message", [
    ("truncated-wav", "too short"), ("picture-as-wav", "no audio track"), ("flac-bomb", "the limit is"),
    ("nan-wav", "NaN or infinite"), ("zip-bomb-motion", "unpacks to"), ("pickle-motion", "pickles are not accepted"),
    ("image-bomb-face", "too large an image"), ("guidance-50", "greater than maximum value 3"),
    ("steps-0", "less than minimum value 1"), ("steps-5000", "greater than maximum value 100"),
    ("seed-negative", "less than minimum value 0"), ("intensity-7", "not in the list of choices"),
    ("text-100kB", "characters long"),
])
def test_app_refuses_hostile_input(client, tmp_path, case, message):
    """Hostile uploads and out-of-range settings sent straight to the API (past the page's sliders: Gradio
    checks their ranges itself, and the pipeline checks them again for the Python API and the CLI)."""
    import hostile as H
    from gradio_client.exceptions import AppError

    audio, overrides = ASSETS / "happy.ogg", {}
    makers = {"truncated-wav": H.truncated_wav, "picture-as-wav": H.png_as_wav, "flac-bomb": H.flac_bomb,
              "nan-wav": H.nan_float_wav}
    if case in makers:
        audio = makers[case](tmp_path)
    if case in ("zip-bomb-motion", "pickle-motion"):
        motion = (H.zip_bomb_npz if case == "zip-bomb-motion" else H.pickle_npz)(tmp_path)
        overrides = {"source_kind": "Borrow from a motion file", "ref_motion": handle_file(str(motion))}
    if case == "image-bomb-face":
        overrides = {"source_kind": "Borrow from a face", "face_photo": handle_file(str(H.image_bomb(tmp_path)))}
    settings = {"guidance-50": {"guidance": 50.0}, "steps-0": {"steps": 0}, "steps-5000": {"steps": 5000},
                "seed-negative": {"seed": -1}, "intensity-7": {"intensity": 7},
                "text-100kB": {"source_kind": "Describe it in words", "text": "so " * 34_000}}
    overrides.update(settings.get(case, {}))
    with pytest.raises(AppError, match=message) as caught:
        client.predict(**_args(audio, **overrides), api_name="/generate")
    assert "Traceback" not in str(caught.value)


@pytest.mark.slow
def test_load_of_24_visitors_mixing_good_long_and_hostile(tmp_path):
    """24 clients at once (loopback): every good and long request gets a playable MP4, every hostile one
    its message, clients are told their place in the queue, memory stays bounded, and the request
    folders go when swept."""
    import resource

    import app
    from tools.load_test import fire, load_mix, summary

    settings = app.Settings(keep_results_s=3600.0)
    demo = app.build_demo(tiny_animator(), size=64, examples=False, settings=settings)
    mix = load_mix(tmp_path / "in", 24, long_seconds=12.0)
    with serve(demo, allowed_paths=[ASSETS]) as url:
        outcomes = fire(url, mix, _args, tmp_path / "downloads")
    for o in outcomes:
        if o.request.kind == "hostile":
            assert o.video is None and o.error and o.request.expect in o.error, (o.request, o.error)
        else:
            assert o.error is None, (o.request, o.error)
            assert_playable(o.video, clip_seconds(o.request.audio), 64)
    stats = summary(outcomes, 1.0)
    assert stats["completed"] == 18 and stats["refused_hostile"] == 6
    assert stats["max_queue_position"] >= 5  # two at a time: the rest were told where they stood
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4 * 2**20  # KiB: under 4 GiB, models included
    outputs = demo.emoanim_outputs
    assert len(list(outputs.root.glob("req_*"))) == 18  # a folder per good take; the refused left none
    outputs.keep_s = 0
    outputs.sweep()
    assert not list(outputs.root.glob("req_*"))


@pytest.mark.slow
@pytest.mark.parametrize("how, stage", [("cancel", "sampling"), ("cancel", "rendering"), ("leave", "sampling")])
def test_a_cancelled_or_abandoned_request_stops_its_work_and_leaves_no_files(tmp_path, caplog, how, stage):
    """Cancelling (gradio_client's ``cancel``, which is what the Stop button sends) or leaving (the
    client closes: its heartbeat ends) stops the worker at its next sampling step or frames, deletes the
    request's folder, and the server goes on serving."""
    import logging
    import time

    import app

    caplog.set_level(logging.INFO, logger="emoanim.app")
    speech = tmp_path / "long.wav"
    short, rate = load_audio(ASSETS / "happy.ogg", 16000), 16000
    save_wav(speech, np.tile(short, int(np.ceil(40 * rate / short.size))), rate)  # 40 s
    settings = app.Settings(results_dir=tmp_path / "results")
    demo = app.build_demo(tiny_animator(), size=64, examples=False, settings=settings)
    steps = 100 if stage == "sampling" else 1  # a long sampling (the most the app takes), or a quick one
    with serve(demo, allowed_paths=[ASSETS]) as url:
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        job = client.submit(**_args(speech, steps=steps), api_name="/generate")
        from tools.load_test import wait_for_stage

        seen = wait_for_stage(job, stage)
        if how == "cancel":
            job.cancel()
        else:
            client.close()
        deadline = time.monotonic() + 30
        while "was cancelled at" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "was cancelled at" in caplog.text, caplog.text
        stopped_at = caplog.text.split("was cancelled at '")[1].split("'")[0]
        assert stage in stopped_at or "rendering" in stopped_at, (seen, stopped_at)
        done, total = map(int, stopped_at.split()[-1].split("/"))
        assert done < total  # stopped partway
        outputs = demo.emoanim_outputs
        assert not list(outputs.root.glob("req_*"))  # its folder went with it
        # The server goes on: a new visitor gets a take.
        other = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        video = other.predict(**_args(ASSETS / "happy.ogg", steps=1), api_name="/generate")[0]
        assert_playable(video["video"] if isinstance(video, dict) else video, clip_seconds(ASSETS / "happy.ogg"), 64)


def test_operator_settings_come_from_the_environment():
    import app

    env = {"EMOANIM_CONCURRENCY": "3", "EMOANIM_QUEUE_SIZE": "9", "EMOANIM_MAX_UPLOAD_MB": "12.5",
           "EMOANIM_KEEP_RESULTS_S": "60", "EMOANIM_MAX_SECONDS": "30", "EMOANIM_SIZE": "256"}
    settings = app.Settings.from_env(env)
    assert (settings.concurrency, settings.queue_size, settings.max_upload_mb, settings.keep_results_s) == (3, 9, 12.5, 60)
    assert settings.animator_config().max_seconds == 30 and settings.animator_config().size == 256
    from emoanim.errors import EmoAnimError

    for name, value, message in (("EMOANIM_CONCURRENCY", "two", "not a whole number"),
                                 ("EMOANIM_QUEUE_SIZE", "0", "must be positive")):
        with pytest.raises(EmoAnimError, match=message):
            app.Settings.from_env({name: value})
    assert app.Settings.from_env({"EMOANIM_FLAME_MODEL": "/nonexistent.pkl"}).flame_model is None

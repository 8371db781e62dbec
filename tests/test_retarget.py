"""ARKit takes as FLAME sequences (rigs/retarget.py, motion/flame_sequence.py).

Checked on the generated FLAME-format fixture (tests/flame_fixture.py: exp00 parts the lips, exp01
raises the mouth corners, exp02/exp03 close the left/right eyelids, the jaw opens the mouth) and,
the same checks, on a real FLAME model when one is under ../shared/flame/ or $EMOANIM_FLAME_MODEL.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flame_fixture  # noqa: E402

from emoanim.errors import EmoAnimError  # noqa: E402
from emoanim.motion.flame_sequence import FlameSequence  # noqa: E402
from emoanim.rigs import load_rig  # noqa: E402
from emoanim.rigs.arkit import ARKIT_ACTIONS  # noqa: E402
from emoanim.rigs.retarget import ArkitToFlame, arkit_to_flame, features, find_landmarks  # noqa: E402

REAL_FLAME_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "flame"


def real_flame_file() -> Path | None:
    given = os.environ.get("EMOANIM_FLAME_MODEL")
    if given and Path(given).is_file():
        return Path(given)
    files = sorted(REAL_FLAME_DIR.glob("*.pkl")) + sorted(REAL_FLAME_DIR.glob("*.npz")) if REAL_FLAME_DIR.is_dir() else []
    return files[0] if files else None


@pytest.fixture(scope="module", params=["fixture", "real"])
def flame_model(request, tmp_path_factory) -> Path:
    if request.param == "real":
        path = real_flame_file()
        if path is None:
            pytest.skip(f"no real FLAME model under {REAL_FLAME_DIR} or in $EMOANIM_FLAME_MODEL")
        copy = tmp_path_factory.mktemp("real_flame") / path.name  # (the map is cached beside it: not in shared/)
        shutil.copy(path, copy)
        return copy
    return flame_fixture.write_npz(tmp_path_factory.mktemp("flame") / "fixture.npz", flame_fixture.make_fixture(50))


@pytest.fixture(scope="module")
def flame(flame_model):
    return load_rig("flame", flame_model=flame_model, num_expressions=50)


@pytest.fixture(scope="module")
def mapping(flame, arkit_rig) -> ArkitToFlame:
    return arkit_to_flame(flame, lambda: arkit_rig)


def on_flame(flame, mapping, poses: list[dict], arkit_rig) -> np.ndarray:
    """ARKit poses -> the FLAME mesh's semantic features [N, F] (rest first)."""
    params = np.concatenate([arkit_rig.neutral()[None]] + [arkit_rig.params_from_dict(p) for p in poses])
    return features(flame.vertices(mapping(params)), find_landmarks(flame))


GAP, LEFT_CORNER_Y, RIGHT_CORNER_Y, LEFT_LID, RIGHT_LID = 1, 8, 10, 16, 17  # features' layout (retarget.py)


def test_jaw_open_opens_flames_jaw_and_lips(flame, mapping, arkit_rig):
    f = on_flame(flame, mapping, [{"jawOpen": 0.5}, {"jawOpen": 1.0}], arkit_rig)
    assert mapping(arkit_rig.params_from_dict({"jawOpen": 1.0}))[0, 50] > 0.1  # jaw_rx: radians of opening
    assert f[0, GAP] < f[1, GAP] < f[2, GAP]
    assert f[2, GAP] - f[0, GAP] > 0.1  # a tenth of the eye distance: ~6 mm on a real face


def test_mouth_close_closes_the_lips_against_an_open_jaw(flame, mapping, arkit_rig):
    f = on_flame(flame, mapping, [{"jawOpen": 0.4}, {"jawOpen": 0.4, "mouthClose": 0.4}], arkit_rig)
    opened, sealed = f[1, GAP] - f[0, GAP], f[2, GAP] - f[0, GAP]
    assert sealed < 0.3 * opened, (opened, sealed)


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_blink_closes_that_eyes_lids(flame, mapping, arkit_rig, side):
    f = on_flame(flame, mapping, [{f"eyeBlink{side}": 1.0}], arkit_rig)
    shut, other = (LEFT_LID, RIGHT_LID) if side == "Left" else (RIGHT_LID, LEFT_LID)
    assert f[1, shut] < 0.5 * f[0, shut]  # the lids at least half closed
    assert abs(f[1, other] - f[0, other]) < 0.2 * f[0, other]  # the other eye stays open


def test_smile_raises_the_mouth_corners(flame, mapping, arkit_rig):
    f = on_flame(flame, mapping, [{"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}], arkit_rig)
    assert f[1, LEFT_CORNER_Y] > f[0, LEFT_CORNER_Y] + 0.01 and f[1, RIGHT_CORNER_Y] > f[0, RIGHT_CORNER_Y] + 0.01


def test_a_whole_take_keeps_its_lip_gap(flame, mapping, arkit_rig):
    """A speaking take (syllable-rate jaw, lip closures, rounding, smiles, blinks, head motion) on both
    faces: the FLAME lip gap follows the ARKit one."""
    rng = np.random.default_rng(0)
    t = np.arange(200) / 25.0
    smooth = lambda rate: np.clip(np.convolve(rng.normal(0, 1, 260), np.hanning(rate), "same")[30:230], 0, None)  # noqa: E731
    curves = {"jawOpen": 0.5 * np.clip(np.sin(2 * np.pi * 3.7 * t), 0, None), "mouthClose": 0.2 * smooth(9),
              "mouthFunnel": 0.3 * smooth(15), "mouthPucker": 0.3 * smooth(15), "mouthSmileLeft": 0.3 * smooth(25),
              "mouthSmileRight": 0.3 * smooth(25), "mouthLowerDownLeft": 0.2 * smooth(9),
              "mouthLowerDownRight": 0.2 * smooth(9), "eyeBlinkLeft": (np.sin(t * 2.1) > 0.95) * 1.0,
              "headYaw": 0.2 * np.sin(0.8 * t), "headPitch": 0.1 * np.sin(1.3 * t)}
    params = np.tile(arkit_rig.neutral(), (len(t), 1))
    for name, values in curves.items():
        params[:, arkit_rig.param_index(name)] = np.clip(values, -0.6, 1.0)
    flame_params = mapping(params)
    assert flame_params.shape == (len(t), 65) and np.isfinite(flame_params).all()
    still = params.copy()
    still[:, len(ARKIT_ACTIONS) :] = 0  # measured with the head straight (features are in the head's frame)
    arkit_gap = features(arkit_rig.vertices(still), find_landmarks(arkit_rig))[:, GAP]
    flame_gap = features(flame.vertices(mapping(still)), find_landmarks(flame))[:, GAP]
    assert np.corrcoef(arkit_gap, flame_gap)[0, 1] >= 0.9
    # Head rotation and gaze carry over exactly: the neck turns as the ARKit head does.
    np.testing.assert_allclose(flame_params[:, 53 + 1], params[:, arkit_rig.param_index("headYaw")], atol=0.02)


def test_the_map_is_cached_beside_the_model_and_refitted_when_it_changes(tmp_path, arkit_rig):
    model = flame_fixture.write_npz(tmp_path / "mine.npz", flame_fixture.make_fixture(50))
    flame = load_rig("flame", flame_model=model, num_expressions=50)
    first = arkit_to_flame(flame, lambda: arkit_rig)
    cached = list(tmp_path.glob("mine.emoanim-arkit-*.npz"))
    assert len(cached) == 1
    again = arkit_to_flame(flame, lambda: pytest.fail("a cached map needs no ARKit head"))
    np.testing.assert_array_equal(first.matrix, again.matrix)
    flame_fixture.write_npz(model, flame_fixture.make_fixture(50, seed=1))  # another model under the same name
    refit = arkit_to_flame(load_rig("flame", flame_model=model, num_expressions=50), lambda: arkit_rig)
    assert not np.array_equal(first.matrix, refit.matrix)


def test_a_read_only_model_folder_caches_elsewhere(tmp_path, arkit_rig, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    model = flame_fixture.write_npz(folder / "m.npz", flame_fixture.make_fixture(50))
    monkeypatch.setenv("EMOANIM_CACHE", str(tmp_path / "cache"))
    folder.chmod(0o555)
    try:
        arkit_to_flame(load_rig("flame", flame_model=model, num_expressions=50), lambda: arkit_rig)
    finally:
        folder.chmod(0o755)
    assert list((tmp_path / "cache" / "flame").glob("*.npz"))


def test_flame_sequence_files_round_trip_and_bad_ones_are_refused(tmp_path, mapping, arkit_rig):
    params = mapping(np.tile(arkit_rig.params_from_dict({"jawOpen": 0.5}), (10, 1)))
    seq = FlameSequence.from_params(params, 50, 25.0)
    path = seq.save(tmp_path / "take_flame.npz")
    with np.load(path, allow_pickle=False) as data:
        assert {k: data[k].shape for k in data.files} == {"exp": (10, 50), "jaw": (10, 3), "neck": (10, 3),
                                                          "global": (10, 3), "eyes": (10, 6), "shape": (100,),
                                                          "fps": ()}
    back = FlameSequence.load(path)
    np.testing.assert_array_equal(back.params(), params)
    assert back.fps == 25.0
    np.savez(tmp_path / "partial.npz", exp=np.zeros((3, 50)))
    with pytest.raises(EmoAnimError, match="lacks"):
        FlameSequence.load(tmp_path / "partial.npz")
    arrays = {k: np.zeros((3, w)) for k, w in (("exp", 50), ("jaw", 3), ("neck", 3), ("global", 3), ("eyes", 6))}
    np.savez(tmp_path / "nan.npz", **{**arrays, "jaw": np.full((3, 3), np.nan)}, shape=np.zeros(100), fps=25.0)
    with pytest.raises(EmoAnimError, match="NaN"):
        FlameSequence.load(tmp_path / "nan.npz")
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04garbage")
    with pytest.raises(EmoAnimError, match="cannot read"):
        FlameSequence.load(tmp_path / "pickle.npz")

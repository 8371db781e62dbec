"""Motion container, .npz files, and the Live Link Face CSV / JSON exports."""

from __future__ import annotations

import csv
import json
import math
import os
import sys

import numpy as np
import pytest

from emoanim.errors import EmoAnimError
from emoanim.motion import (
    HEAD_UNITS,
    LLF_CURVES,
    LLF_HEADER,
    Motion,
    export_csv,
    export_json,
    llf_curves,
    load_csv,
    load_json,
    load_motion,
    load_motion_file,
)
from emoanim.rigs import rig_param_names
from emoanim.rigs.arkit import ARKIT_ACTIONS, ARKIT_PARAMS, HEAD_PARAMS


def arkit_motion(frames: int = 40, fps: float = 30.0, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    params = rng.uniform(0.0, 1.0, (frames, len(ARKIT_PARAMS))).astype(np.float32)
    params[:, -3:] = rng.uniform(-0.4, 0.4, (frames, 3))  # head angles, radians
    return Motion(params, ARKIT_PARAMS, fps, "arkit")


def files_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


def raises(match: str):
    return pytest.raises(EmoAnimError, match=match)


# ---- the container -----------------------------------------------------------------------


def test_properties_and_repr():
    m = arkit_motion(frames=45, fps=30)
    assert m.num_frames == 45 and m.num_params == 55
    assert m.duration == pytest.approx(1.5)
    assert m.params.dtype == np.float32
    assert "frames=45" in repr(m) and "arkit" in repr(m)
    np.testing.assert_array_equal(m.column("jawOpen"), m.params[:, ARKIT_PARAMS.index("jawOpen")])
    with raises("did you mean 'jawOpen'"):
        m.column("JawOpen")


def test_params_are_coerced_to_float32():
    m = Motion(np.zeros((2, 55), np.float64), ARKIT_PARAMS, 25, "arkit")
    assert m.params.dtype == np.float32 and m.fps == 25.0


@pytest.mark.parametrize(
    ("params", "names", "fps", "rig", "message"),
    [
        (np.zeros(55), ARKIT_PARAMS, 30, "arkit", "2-D"),
        (np.zeros((3, 54)), ARKIT_PARAMS, 30, "arkit", "54 columns but 55 names"),
        (np.zeros((0, 55)), ARKIT_PARAMS, 30, "arkit", "no frames"),
        (np.zeros((3, 55)), ARKIT_PARAMS, 0, "arkit", r"fps must be .* \(0, 240\]"),
        (np.zeros((3, 55)), ARKIT_PARAMS, 500, "arkit", "fps must be"),
        (np.zeros((3, 55)), ARKIT_PARAMS, float("nan"), "arkit", "fps must be"),
        (np.zeros((3, 55)), ARKIT_PARAMS, "fast", "arkit", "fps must be a number"),
        (np.zeros((3, 2)), ("jawOpen", "jawOpen"), 30, "arkit", "unique.*jawOpen"),
        (np.zeros((3, 55)), ARKIT_PARAMS, 30, "metahuman", "unknown rig 'metahuman'"),
        (np.array([["a"] * 55]), ARKIT_PARAMS, 30, "arkit", "must be numbers"),
    ],
)
def test_invalid_motions(params, names, fps, rig, message):
    with raises(message):
        Motion(params, names, fps, rig)


def test_non_finite_reports_frame_and_parameter():
    params = np.zeros((10, 55), np.float32)
    params[7, ARKIT_PARAMS.index("jawOpen")] = np.nan
    params[9, 0] = np.inf
    with raises(r"2 bad value\(s\).*frame 7, parameter 'jawOpen' \(NaN\)"):
        Motion(params, ARKIT_PARAMS, 30, "arkit")
    big = np.zeros((10, 55), np.float64)
    big[9, 0] = 1e39  # finite in float64 but not in float32
    with raises("frame 9, parameter 'browDownLeft' .*too large"):
        Motion(big, ARKIT_PARAMS, 30, "arkit")


def test_for_rig_reorders_and_fills():
    m = arkit_motion(frames=5)
    order = list(reversed(ARKIT_PARAMS))
    shuffled = Motion(m.params[:, ::-1].copy(), order, m.fps, "arkit")
    back = shuffled.for_rig()
    assert back.names == ARKIT_PARAMS
    np.testing.assert_array_equal(back.params, m.params)

    subset = Motion(m.params[:, :3], ARKIT_PARAMS[:3], m.fps, "arkit")
    with raises("lacks 52 parameters.*fill_missing=True"):
        subset.for_rig()
    filled = subset.for_rig(fill_missing=True)
    assert filled.names == ARKIT_PARAMS
    np.testing.assert_array_equal(filled.params[:, :3], m.params[:, :3])
    assert not filled.params[:, 3:].any()


def test_resample_linear():
    t = np.arange(30, dtype=np.float32)
    params = np.zeros((30, 55), np.float32)
    params[:, 0] = t  # a ramp: 1 per source frame
    m = Motion(params, ARKIT_PARAMS, 30, "arkit")
    up = m.resample(60)
    assert up.num_frames == 60 and up.fps == 60
    assert up.duration == pytest.approx(m.duration)
    np.testing.assert_allclose(up.params[:59, 0], np.arange(59) * 0.5, atol=1e-6)
    assert up.params[59, 0] == 29  # past the last source frame: hold
    down = m.resample(15)
    assert down.num_frames == 15
    np.testing.assert_allclose(down.params[:, 0], np.arange(15) * 2.0)
    assert m.resample(30) is m


# ---- .npz ----------------------------------------------------------------------------------


def test_save_load_round_trip_exact(tmp_path):
    m = arkit_motion()
    path = m.save(tmp_path / "clip.npz")
    assert files_in(tmp_path) == ["clip.npz"]  # no temp file left over
    if os.name == "posix":  # not the 0600 of a temp file
        umask = os.umask(0o022)
        os.umask(umask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    back = load_motion(path, expect_rig="arkit")
    assert back.names == m.names and back.rig == "arkit" and back.fps == m.fps
    np.testing.assert_array_equal(back.params, m.params)
    with np.load(path, allow_pickle=False) as raw:  # the on-disk schema other tools rely on
        assert raw["params"].dtype == np.float32 and raw["params"].shape == (40, 55)
        assert raw["names"].dtype.kind == "U" and raw["names"].shape == (55,)
        assert raw["fps"].shape == () and raw["fps"].dtype.kind == "f"
        assert raw["rig"].dtype.kind == "U" and str(raw["rig"]) == "arkit"


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "clip.npz"
    arkit_motion(seed=1).save(path)
    m = arkit_motion(seed=2)
    m.save(path)
    np.testing.assert_array_equal(load_motion(path).params, m.params)
    assert files_in(tmp_path) == ["clip.npz"]


def test_load_reorders_names(tmp_path):
    m = arkit_motion()
    perm = np.random.default_rng(3).permutation(55)
    np.savez(
        tmp_path / "shuffled.npz",
        params=m.params[:, perm],
        names=np.array([ARKIT_PARAMS[i] for i in perm]),
        fps=30.0,
        rig="arkit",
    )
    back = load_motion(tmp_path / "shuffled.npz")
    assert back.names == ARKIT_PARAMS
    np.testing.assert_array_equal(back.params, m.params)


def test_load_subset_needs_fill_missing(tmp_path):
    names = ("jawOpen", "mouthSmileLeft")
    np.savez(tmp_path / "sub.npz", params=np.ones((4, 2), np.float32), names=np.array(names), fps=30.0, rig="arkit")
    with raises("lacks 53 parameters of the 'arkit' rig: .*browDownLeft.*fill_missing=True"):
        load_motion(tmp_path / "sub.npz")
    m = load_motion(tmp_path / "sub.npz", fill_missing=True)
    assert m.names == ARKIT_PARAMS
    assert m.column("jawOpen").tolist() == [1.0] * 4
    assert not m.column("headYaw").any()


def test_load_unknown_names_listed_with_hint(tmp_path):
    names = list(ARKIT_PARAMS)
    names[ARKIT_PARAMS.index("jawOpen")] = "JawOpen"
    names[0] = "smile"
    np.savez(tmp_path / "bad.npz", params=np.zeros((2, 55), np.float32), names=np.array(names), fps=30.0, rig="arkit")
    with pytest.raises(EmoAnimError) as err:
        load_motion(tmp_path / "bad.npz")
    text = str(err.value)
    assert "2 parameters not in the 'arkit' rig" in text
    assert "smile" in text and "JawOpen" in text and "jawOpen" in text
    assert "\n" not in text


def test_unwritable_folder_and_failed_save_leave_nothing(tmp_path, monkeypatch):
    m = arkit_motion()
    with raises("folder .* does not exist"):
        m.save(tmp_path / "nope" / "clip.npz")
    with raises("is a folder"):
        m.save(tmp_path)

    # Fail halfway through writing: neither the target nor a temp file may remain.
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with raises("cannot write .*the disk is full"):
        m.save(tmp_path / "clip.npz")
    assert files_in(tmp_path) == []


def test_temp_file_refused(tmp_path, monkeypatch):
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with raises("cannot write .*Permission denied; check that the folder is writable"):
        arkit_motion().save(tmp_path / "clip.npz")
    assert files_in(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, non-root")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with raises("cannot write .*writable"):
            arkit_motion().save(folder / "clip.npz")
        assert files_in(folder) == []
    finally:
        folder.chmod(0o700)


def test_missing_file(tmp_path):
    with raises("motion file not found: .*absent.npz"):
        load_motion(tmp_path / "absent.npz")


def test_not_an_npz(tmp_path):
    (tmp_path / "text.npz").write_text("hello, I am text\n")
    with raises("not an .npz motion file"):
        load_motion(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with raises("is empty"):
        load_motion(tmp_path / "empty.npz")
    np.save(tmp_path / "single.npy", np.zeros((2, 55), np.float32))
    with raises("single .npy array"):
        load_motion(tmp_path / "single.npy")


def test_truncated_npz(tmp_path):
    path = arkit_motion(frames=200).save(tmp_path / "clip.npz")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with raises("not a readable .npz motion file"):
            load_motion(tmp_path / "cut.npz")


def test_corrupt_member(tmp_path):
    path = arkit_motion(frames=200).save(tmp_path / "clip.npz")
    data = bytearray(path.read_bytes())
    for i in range(200, 260):  # scribble inside the compressed params
        data[i] ^= 0xFF
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    with raises("not a readable .npz motion file"):
        load_motion(tmp_path / "bad.npz")


def test_missing_keys(tmp_path):
    np.savez(tmp_path / "m.npz", params=np.zeros((2, 55), np.float32), rig="arkit")
    with raises("missing key\\(s\\) names, fps"):
        load_motion(tmp_path / "m.npz")


def test_pickled_object_array_refused_without_unpickling(tmp_path, monkeypatch):
    names = np.array(list(ARKIT_PARAMS), dtype=object)
    np.savez(tmp_path / "evil.npz", params=np.zeros((2, 55), np.float32), names=names, fps=30.0, rig="arkit")
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("load_motion must never unpickle")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with raises("'names' is a pickled object array; pickles are not accepted"):
        load_motion(tmp_path / "evil.npz")


def test_plain_pickle_refused(tmp_path):
    import pickle

    (tmp_path / "m.npz").write_bytes(pickle.dumps({"params": [1, 2]}))
    with raises("pickle"):
        load_motion(tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"params": np.zeros((2, 3, 55), np.float32)}, "2-D"),
        ({"params": np.zeros(55, np.float32)}, "2-D"),
        ({"names": np.array(ARKIT_PARAMS)[:, None]}, "'names' must be 1-D"),
        ({"names": np.arange(55)}, "'names' must be a string array"),
        ({"fps": np.array([30.0, 60.0])}, "'fps' must be a single value"),
        ({"fps": np.array(-1.0)}, "fps must be"),
        ({"rig": np.array(3)}, "'rig' must be a string"),
        ({"rig": np.array("blob")}, "unknown rig 'blob'"),
    ],
)
def test_bad_arrays(tmp_path, arrays, message):
    fields = {"params": np.zeros((2, 55), np.float32), "names": np.array(ARKIT_PARAMS), "fps": 30.0, "rig": "arkit"}
    fields.update(arrays)
    np.savez(tmp_path / "m.npz", **fields)
    with raises(message):
        load_motion(tmp_path / "m.npz")


def test_nan_in_file_names_frame_and_parameter(tmp_path):
    params = np.zeros((5, 55), np.float32)
    params[3, ARKIT_PARAMS.index("headYaw")] = np.inf
    np.savez(tmp_path / "m.npz", params=params, names=np.array(ARKIT_PARAMS), fps=30.0, rig="arkit")
    with raises(r"m.npz: .*frame 3, parameter 'headYaw' \(infinite\)"):
        load_motion(tmp_path / "m.npz")


def test_expect_rig_mismatch(tmp_path):
    path = arkit_motion().save(tmp_path / "clip.npz")
    with raises("is a motion for the 'arkit' rig but the 'flame' rig was asked for"):
        load_motion(path, expect_rig="flame")
    with raises("unknown rig 'nope'"):
        load_motion(path, expect_rig="nope")


def test_flame_round_trip(tmp_path):
    pytest.importorskip("emoanim.rigs.flame")
    names = rig_param_names("flame", 50)
    params = np.random.default_rng(0).normal(size=(6, len(names))).astype(np.float32)
    m = Motion.from_params(params, "flame", 25)
    back = load_motion(m.save(tmp_path / "f.npz"), expect_rig="flame")
    assert back.names == names
    np.testing.assert_array_equal(back.params, params)
    with raises("only 'arkit' motions can be exported as Live Link Face CSV"):
        export_csv(m, tmp_path / "f.csv")
    assert not (tmp_path / "f.csv").exists()
    np.testing.assert_array_equal(load_json(export_json(m, tmp_path / "f.json")).params, params)


# ---- Live Link Face CSV --------------------------------------------------------------------


EXPECTED_LLF_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def read_csv(path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_layout(tmp_path):
    m = arkit_motion(frames=75, fps=30)
    path = export_csv(m, tmp_path / "take.csv")
    assert files_in(tmp_path) == ["take.csv"]
    rows = read_csv(path)
    assert ",".join(rows[0]) == EXPECTED_LLF_HEADER == ",".join(LLF_HEADER)
    assert len(rows[0]) == 63 and len(LLF_CURVES) == 61
    assert len(rows) - 1 == m.num_frames
    assert all(len(r) == 63 and r[1] == "61" for r in rows[1:])
    assert [rows[i][0] for i in (1, 2, 30, 31, 75)] == [
        "00:00:00:00.000", "00:00:00:01.000", "00:00:00:29.000", "00:00:01:00.000", "00:00:02:14.000",
    ]  # fmt: skip
    col = rows[0].index("JawOpen")
    assert float(rows[5][col]) == pytest.approx(float(m.column("jawOpen")[4]), abs=1e-9)
    yaw = float(rows[5][rows[0].index("HeadYaw")])
    assert yaw == pytest.approx(m.column("headYaw")[4] / (math.pi / 2), abs=1e-9)  # normalised


def test_csv_eye_rotation_derived_from_eye_look(tmp_path):
    params = Motion.neutral("arkit", 2, 30).params.copy()
    params[0, ARKIT_PARAMS.index("eyeLookOutLeft")] = 1.0  # both eyes look to the subject's left
    params[0, ARKIT_PARAMS.index("eyeLookInRight")] = 1.0
    params[1, ARKIT_PARAMS.index("eyeLookDownLeft")] = 0.5
    curves = llf_curves(Motion(params, ARKIT_PARAMS, 30, "arkit"))
    at = {name: curves[:, i] for i, name in enumerate(LLF_CURVES)}
    assert at["LeftEyeYaw"][0] == pytest.approx(-math.radians(30))
    assert at["RightEyeYaw"][0] == pytest.approx(-math.radians(30))
    assert at["LeftEyePitch"][1] == pytest.approx(0.5 * math.radians(25))
    assert not at["LeftEyeRoll"].any() and not at["RightEyeRoll"].any()


@pytest.mark.parametrize("head_unit", sorted(HEAD_UNITS))
def test_csv_round_trip(tmp_path, head_unit):
    m = arkit_motion(frames=75, fps=30)
    back = load_csv(export_csv(m, tmp_path / "take.csv", head_unit=head_unit), head_unit=head_unit)
    assert back.rig == "arkit" and back.names == ARKIT_PARAMS and back.fps == 30.0
    np.testing.assert_allclose(back.params, m.params, atol=1e-6)


@pytest.mark.parametrize("fps", [24.0, 25.0, 60.0, 30000 / 1001, 12.5])
def test_csv_fps_inferred_from_timecodes(tmp_path, fps):
    m = arkit_motion(frames=int(fps * 2.5), fps=fps)
    back = load_csv(export_csv(m, tmp_path / "take.csv"))
    assert back.fps == pytest.approx(fps, rel=1e-4)
    assert back.num_frames == m.num_frames


def test_csv_short_clip_needs_fps(tmp_path):
    path = export_csv(arkit_motion(frames=5, fps=30), tmp_path / "short.csv")
    with raises("pass fps explicitly"):
        load_csv(path)
    assert load_csv(path, fps=30).num_frames == 5


def llf_take(path, rows: int, start_ff: float = 31.652, step: float = 1.9997):
    """A recording as the iPhone app writes it: 30 rows/s with 60 fps timecodes, time of day."""
    lines = [",".join(LLF_HEADER)]
    sec, ff = 13 * 3600 + 13 * 60 + 4, start_ff
    for i in range(rows):
        h, rest = divmod(sec, 3600)
        mi, s = divmod(rest, 60)
        values = [f"{0.01 * (i % 50):.10f}"] * 52 + ["0.0000000000"] * 3 + ["-0.0312639736", "0.1712819338"] + ["0"] * 4
        lines.append(f"{h:02d}:{mi:02d}:{s:02d}:{ff:06.3f},61," + ",".join(values))
        ff += step
        if ff >= 60:
            ff -= 60
            sec += 1
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_real_llf_layout(tmp_path):
    m = load_csv(llf_take(tmp_path / "take.csv", rows=90))
    assert m.fps == 30.0 and m.num_frames == 90 and m.names == ARKIT_PARAMS
    assert m.column("jawOpen")[3] == pytest.approx(0.03)
    assert not m.params[:, -3:].any()


def test_load_csv_lowercase_columns_any_order(tmp_path):
    m = arkit_motion(frames=40, fps=30)
    rows = read_csv(export_csv(m, tmp_path / "take.csv"))
    order = [0, 1] + list(range(62, 1, -1))
    header = [rows[0][i][0].lower() + rows[0][i][1:] if 2 <= i < 54 else rows[0][i] for i in order]
    with open(tmp_path / "mixed.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows([[r[i] for i in order] for r in rows[1:]])
    back = load_csv(tmp_path / "mixed.csv")
    np.testing.assert_allclose(back.params, m.params, atol=1e-6)


def test_load_csv_errors(tmp_path):
    with raises("CSV file not found"):
        load_csv(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with raises("is empty"):
        load_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text(",".join(LLF_HEADER) + "\n")
    with raises("no frames"):
        load_csv(tmp_path / "header.csv")

    rows = read_csv(export_csv(arkit_motion(frames=40), tmp_path / "ok.csv"))
    (tmp_path / "cut.csv").write_text("\n".join(",".join(r) for r in rows[:10]) + "\n" + ",".join(rows[10][:20]))
    with raises("line 11: 20 fields but the header has 63"):
        load_csv(tmp_path / "cut.csv")

    bad = [list(r) for r in rows]
    bad[4][5] = "abc"
    (tmp_path / "text.csv").write_text("\n".join(",".join(r) for r in bad))
    with raises(f"line 5, column {LLF_HEADER[5]}: 'abc' is not a number"):
        load_csv(tmp_path / "text.csv")

    bad = [list(r) for r in rows]
    bad[6][10] = "nan"
    (tmp_path / "nan.csv").write_text("\n".join(",".join(r) for r in bad))
    with raises("line 7, column EyeLookDownRight: value 'nan' is not finite \\(frame 5\\)"):
        load_csv(tmp_path / "nan.csv")

    bad = [list(r) for r in rows]
    bad[0][2] = "EyeBlinkLeftt"
    (tmp_path / "typo.csv").write_text("\n".join(",".join(r) for r in bad))
    with raises("1 column not in the Live Link Face layout: EyeBlinkLeftt .*did you mean 'EyeBlinkLeft'"):
        load_csv(tmp_path / "typo.csv")

    bad = [list(r) for r in rows]
    bad[3][0] = "yesterday"
    (tmp_path / "tc.csv").write_text("\n".join(",".join(r) for r in bad))
    with raises("line 4: timecode 'yesterday'"):
        load_csv(tmp_path / "tc.csv")
    assert load_csv(tmp_path / "tc.csv", fps=30).num_frames == 40


def test_load_csv_missing_columns(tmp_path):
    rows = read_csv(export_csv(arkit_motion(frames=40), tmp_path / "ok.csv"))
    keep = [i for i, h in enumerate(rows[0]) if h not in ("TongueOut", "CheekPuff")]
    (tmp_path / "less.csv").write_text("\n".join(",".join(r[i] for i in keep) for r in rows))
    with raises("lacks 2 blendshape columns: CheekPuff, TongueOut; .*fill_missing=True"):
        load_csv(tmp_path / "less.csv")
    m = load_csv(tmp_path / "less.csv", fill_missing=True)
    assert not m.column("tongueOut").any() and m.column("jawOpen").any()

    # 52 blendshapes only, no head or eye columns: a still head.
    keep = list(range(0, 54))
    (tmp_path / "shapes.csv").write_text("\n".join(",".join(r[i] for i in keep) for r in rows))
    m = load_csv(tmp_path / "shapes.csv")
    assert m.names == ARKIT_PARAMS and not m.params[:, -3:].any()


def test_csv_from_subset_motion_fills_neutral(tmp_path):
    m = Motion(np.full((3, 1), 0.5, np.float32), ("jawOpen",), 30, "arkit")
    rows = read_csv(export_csv(m, tmp_path / "j.csv"))
    assert float(rows[1][rows[0].index("JawOpen")]) == 0.5
    assert float(rows[1][rows[0].index("MouthClose")]) == 0.0


def test_csv_unknown_head_unit(tmp_path):
    with raises("unknown head unit 'turns'"):
        export_csv(arkit_motion(), tmp_path / "x.csv", head_unit="turns")
    assert files_in(tmp_path) == []


# ---- JSON ----------------------------------------------------------------------------------


def test_json_round_trip(tmp_path):
    m = arkit_motion(frames=20, fps=24)
    path = export_json(m, tmp_path / "clip.json")
    doc = json.loads(path.read_text())
    assert doc["rig"] == "arkit" and doc["fps"] == 24 and doc["num_frames"] == 20
    assert doc["names"] == list(ARKIT_PARAMS) and len(doc["curves"]["jawOpen"]) == 20
    back = load_json(path, expect_rig="arkit")
    assert back.names == ARKIT_PARAMS and back.fps == 24
    np.testing.assert_array_equal(back.params, m.params)  # shortest float32 repr is exact


def test_json_frames_layout_and_errors(tmp_path):
    m = arkit_motion(frames=3)
    rows = {"rig": "arkit", "fps": 30, "names": list(ARKIT_PARAMS), "frames": m.params.tolist()}
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    np.testing.assert_array_equal(load_json(tmp_path / "rows.json").params, m.params)

    (tmp_path / "bad.json").write_text("{not json")
    with raises("not valid JSON"):
        load_json(tmp_path / "bad.json")
    (tmp_path / "nokeys.json").write_text('{"rig": "arkit"}')
    with raises("missing key\\(s\\) fps, curves"):
        load_json(tmp_path / "nokeys.json")
    ragged = {"rig": "arkit", "fps": 30, "curves": {"jawOpen": [1, 2], "tongueOut": [1]}}
    (tmp_path / "ragged.json").write_text(json.dumps(ragged))
    with raises("same length"):
        load_json(tmp_path / "ragged.json")
    (tmp_path / "flame.json").write_text('{"rig": "arkit", "fps": 30, "curves": {"jawOpen": [0.1]}}')
    with raises("is a motion for the 'arkit' rig but the 'flame' rig"):
        load_json(tmp_path / "flame.json", expect_rig="flame")


def test_head_params_are_last_three():
    # The CSV head columns are taken from these names; guard the assumption.
    assert HEAD_PARAMS == ("headYaw", "headPitch", "headRoll") and ARKIT_PARAMS[-3:] == HEAD_PARAMS
    assert len(ARKIT_ACTIONS) == 52


# ---- any motion file, by suffix ------------------------------------------------------------


def test_load_motion_file_dispatches_on_the_suffix(tmp_path):
    m = arkit_motion(frames=40, fps=30)
    files = {
        "clip.npz": m.save(tmp_path / "clip.npz"),
        "clip.JSON": export_json(m, tmp_path / "clip.JSON"),  # suffixes match in any case
        "clip.csv": export_csv(m, tmp_path / "clip.csv"),
    }
    for name, path in files.items():
        back = load_motion_file(path, expect_rig="arkit")
        assert back.rig == "arkit" and back.names == ARKIT_PARAMS and back.fps == 30, name
        np.testing.assert_allclose(back.params, m.params, atol=1e-6 if name.endswith("csv") else 0, err_msg=name)


def test_load_motion_file_refuses_other_rigs_and_suffixes(tmp_path):
    m = arkit_motion(frames=40)  # over a second, so the CSV's timecodes show its rate
    for path in (m.save(tmp_path / "a.npz"), export_json(m, tmp_path / "a.json"), export_csv(m, tmp_path / "a.csv")):
        with raises(f"{path.name} is a motion for the 'arkit' rig but the 'flame' rig was asked for"):
            load_motion_file(path, expect_rig="flame")
    (tmp_path / "take.fbx").write_bytes(b"not a motion")
    with raises(r"take.fbx is not a motion file: give a .npz, .csv, .json motion"):
        load_motion_file(tmp_path / "take.fbx")
    with raises("motion file not found"):
        load_motion_file(tmp_path / "missing.npz")

"""The ARKit rig on the Anny head: shapes, and that each action moves what it should."""

import numpy as np
import pytest

from emoanim.errors import EmoAnimError
from emoanim.rigs import load_rig, rig_param_names
from emoanim.rigs.arkit import ARKIT_ACTIONS, AVATARS, ArkitRig, load_anny_head
from emoanim.rigs.base import REQUIRED_GROUPS


def pose(rig, **values):
    return rig.vertices(rig.params_from_dict(values))[0]


def lip_gap(rig, v):
    """Mean vertical opening between the inner-lip contours, metres."""
    return float(v[rig.group("upper_lip"), 1].mean() - v[rig.group("lower_lip"), 1].mean())


def lid_gap(rig, v, side):
    return float(v[rig.group(f"eyelid_upper_{side}"), 1].mean() - v[rig.group(f"eyelid_lower_{side}"), 1].mean())


def test_interface_shapes(arkit_rig):
    rig = arkit_rig
    assert rig.param_names == rig_param_names("arkit")
    assert rig.param_names[:52] == ARKIT_ACTIONS and rig.param_names[52:] == ("headYaw", "headPitch", "headRoll")
    v = rig.vertices(np.zeros((7, rig.num_params), np.float32))
    assert v.shape == (7, rig.num_vertices, 3) and v.dtype == np.float32
    assert rig.faces.shape[1] == 3 and rig.faces.max() < rig.num_vertices and rig.faces.min() >= 0
    assert rig.vertex_colors.shape == (rig.num_vertices, 3)
    for name in REQUIRED_GROUPS:
        assert len(rig.group(name)) >= (2 if name == "mouth_corners" else 5), name
    left, right = v[0, rig.group("mouth_corners")]
    lips = v[0, np.concatenate([rig.group("upper_lip"), rig.group("lower_lip")])]
    assert left[0] == lips[:, 0].max() and right[0] == lips[:, 0].min()  # the corners: the lips' ends
    # Head-sized, in metres, face towards +Z.
    extent = v[0].max(0) - v[0].min(0)
    assert 0.12 < extent[0] < 0.25 and 0.15 < extent[1] < 0.35
    assert v[0, rig.group("upper_lip"), 2].mean() > v[0, :, 2].mean()


def test_neutral_mouth_is_closed_and_jaw_open_opens_it(arkit_rig):
    rig = arkit_rig
    closed, open_ = lip_gap(rig, pose(rig)), lip_gap(rig, pose(rig, jawOpen=1.0))
    assert closed < 0.004
    assert open_ > closed + 0.015  # at least 1.5 cm wider
    half = lip_gap(rig, pose(rig, jawOpen=0.5))
    assert closed < half < open_


def test_mouth_close_closes_lips_against_open_jaw(arkit_rig):
    rig = arkit_rig
    assert lip_gap(rig, pose(rig, jawOpen=0.3, mouthClose=0.3)) < lip_gap(rig, pose(rig, jawOpen=0.3)) - 0.004


def test_blink_closes_the_eyelids(arkit_rig):
    rig = arkit_rig
    for side in ("left", "right"):
        name = f"eyeBlink{side.title()}"
        assert lid_gap(rig, pose(rig, **{name: 1.0}), side) < 0.4 * lid_gap(rig, pose(rig), side)
    # A left blink leaves the right eye open.
    assert lid_gap(rig, pose(rig, eyeBlinkLeft=1.0), "right") == pytest.approx(lid_gap(rig, pose(rig), "right"), abs=1e-4)


def test_smile_raises_and_widens_lip_corners(arkit_rig):
    rig = arkit_rig
    neutral, smile = pose(rig), pose(rig, mouthSmileLeft=1.0, mouthSmileRight=1.0)
    corners = rig.group("upper_lip")[[0, -1]]
    assert (smile[corners, 1] > neutral[corners, 1] + 0.003).all()
    assert np.ptp(smile[corners, 0]) > np.ptp(neutral[corners, 0])
    left_only = pose(rig, mouthSmileLeft=1.0)
    # Subject's left corner is the one with larger x.
    assert left_only[corners[1], 1] - neutral[corners[1], 1] > 3 * abs(left_only[corners[0], 1] - neutral[corners[0], 1])


def test_frown_and_brows(arkit_rig):
    rig = arkit_rig
    neutral = pose(rig)
    corners = rig.group("upper_lip")[[0, -1]]
    frown = pose(rig, mouthFrownLeft=1.0, mouthFrownRight=1.0)
    assert (frown[corners, 1] < neutral[corners, 1]).all()
    brow_up = pose(rig, browInnerUp=1.0)
    brow_down = pose(rig, browDownLeft=1.0, browDownRight=1.0)
    moved_up = np.linalg.norm(brow_up - neutral, axis=1)
    top = np.argsort(moved_up)[-20:]
    assert (brow_up[top, 1] > neutral[top, 1]).all()
    moved_down = np.argsort(np.linalg.norm(brow_down - neutral, axis=1))[-20:]
    assert (brow_down[moved_down, 1] < neutral[moved_down, 1]).mean() > 0.8


def test_every_action_moves_the_face(arkit_rig):
    rig = arkit_rig
    neutral = pose(rig)
    for name in ARKIT_ACTIONS:
        assert np.abs(pose(rig, **{name: 1.0}) - neutral).max() > 0.001, name


def test_eyes_present_and_gaze_turns_them(arkit_rig):
    rig = arkit_rig
    eyes = rig.group("eyes")
    neutral = pose(rig)
    assert len(eyes) > 200
    # Eyeballs sit inside the eyelid openings, in front of the skull.
    for side, sign in (("left", 1), ("right", -1)):
        lids = np.concatenate([rig.group(f"eyelid_upper_{side}"), rig.group(f"eyelid_lower_{side}")])
        eye = eyes[np.sign(neutral[eyes, 0]) == sign]
        assert np.linalg.norm(neutral[eye].mean(0)[:2] - neutral[lids].mean(0)[:2]) < 0.01
    # Pupils (front-most eye points) move towards +X when both eyes look to the subject's left.
    look = pose(rig, eyeLookOutLeft=1.0, eyeLookInRight=1.0)
    front = eyes[np.argsort(neutral[eyes, 2])[-10:]]
    assert (look[front, 0] - neutral[front, 0]).mean() > 0.003
    up = pose(rig, eyeLookUpLeft=1.0, eyeLookUpRight=1.0)
    assert (up[front, 1] - neutral[front, 1]).mean() > 0.003


def test_head_rotation(arkit_rig):
    rig = arkit_rig
    neutral = pose(rig)
    nose = np.argmax(neutral[:, 2])
    assert pose(rig, headYaw=0.4)[nose, 0] > neutral[nose, 0] + 0.02  # turns to the subject's left
    assert pose(rig, headPitch=0.3)[nose, 1] < neutral[nose, 1] - 0.01  # nods down
    tilted = pose(rig, headRoll=0.3)
    top = np.argmax(neutral[:, 1])
    assert tilted[top, 0] < neutral[top, 0] - 0.01  # top of the head to the subject's right
    # Rotation is rigid for the face: distances between face points are kept.
    a, b = rig.group("upper_lip")[0], rig.group("eyes")[0]
    turned = pose(rig, headYaw=0.4)
    assert np.linalg.norm(turned[a] - turned[b]) == pytest.approx(np.linalg.norm(neutral[a] - neutral[b]), rel=1e-3)


def test_batched_equals_single(arkit_rig):
    rig = arkit_rig
    rng = np.random.default_rng(0)
    params = np.zeros((4, rig.num_params), np.float32)
    params[:, :52] = rng.uniform(0, 1, (4, 52))
    params[:, 52:] = rng.uniform(-0.3, 0.3, (4, 3))
    batch = rig.vertices(params)
    for i in range(4):
        np.testing.assert_allclose(batch[i], rig.vertices(params[i : i + 1])[0], atol=1e-5)


def test_avatars_differ_and_unknown_fails():
    shapes = {}
    for name in ("alex", "otto"):
        rig = load_rig("arkit", avatar=name)
        shapes[name] = rig.vertices(rig.neutral()[None])[0]
    assert shapes["alex"].shape == shapes["otto"].shape
    assert np.abs(shapes["alex"] - shapes["otto"]).max() > 0.003
    assert len(AVATARS) >= 5
    with pytest.raises(EmoAnimError, match="unknown avatar 'nobody'.*alex"):
        ArkitRig(avatar="nobody")


def test_bad_params(arkit_rig):
    rig = arkit_rig
    with pytest.raises(EmoAnimError, match="shape"):
        rig.vertices(np.zeros((3, 10)))
    bad = np.zeros((2, rig.num_params))
    bad[1, 4] = np.nan
    with pytest.raises(EmoAnimError, match="NaN"):
        rig.vertices(bad)
    with pytest.raises(EmoAnimError, match="no parameter 'jawOpn'"):
        rig.params_from_dict({"jawOpn": 1.0})
    with pytest.raises(EmoAnimError, match="unknown rig"):
        load_rig("smpl")


@pytest.mark.slow
def test_baked_cache_round_trip(tmp_path, monkeypatch):
    """The disk cache gives the same head as a fresh bake, and a damaged cache is rebuilt."""
    monkeypatch.setenv("EMOANIM_CACHE", str(tmp_path))
    load_anny_head.cache_clear()
    try:
        first = load_anny_head("kim")
        (cached,) = tmp_path.glob("*.npz")
        load_anny_head.cache_clear()
        second = load_anny_head("kim")
        np.testing.assert_array_equal(first.rest, second.rest)
        np.testing.assert_array_equal(first.part["eyes"], second.part["eyes"])
        cached.write_bytes(b"garbage")
        load_anny_head.cache_clear()
        np.testing.assert_array_equal(load_anny_head("kim").rest, first.rest)
    finally:
        load_anny_head.cache_clear()


def test_lips_and_brows_are_painted(arkit_rig):
    """The lips are redder than the cheeks, the brows darker than the forehead, the rest is skin."""
    colors, rest = arkit_rig.vertex_colors, arkit_rig.parts().skin_rest
    skin = np.asarray(arkit_rig_look(arkit_rig).skin)
    redness = colors[:, 0] / np.maximum(colors[:, 1], 1e-6)
    lips = np.concatenate([arkit_rig.vertex_groups["upper_lip"], arkit_rig.vertex_groups["lower_lip"]])
    assert np.median(redness[lips]) > 1.3 * skin[0] / skin[1]
    r = float(np.linalg.norm(arkit_rig.parts().eye_mesh[0]))
    for centre in arkit_rig.parts().eye_centers:
        near = np.linalg.norm(rest[:, :2] - (centre[:2] + [0.0, 1.6 * r]), axis=1) < 0.3 * r
        near &= rest[:, 2] > centre[2]
        forehead = np.linalg.norm(rest[:, :2] - (centre[:2] + [0.0, 4.0 * r]), axis=1) < 0.5 * r
        forehead &= rest[:, 2] > centre[2]
        assert colors[: len(rest)][near].mean() < 0.5 * colors[: len(rest)][forehead].mean()
        np.testing.assert_allclose(colors[: len(rest)][forehead].mean(0), skin, atol=0.02)


def arkit_rig_look(rig):
    from emoanim.rigs.arkit import AVATARS

    return AVATARS[rig.avatar]


def test_lower_teeth_ride_the_jaw_and_upper_teeth_the_skull(arkit_rig):
    rig = arkit_rig
    teeth = rig.group("teeth")
    rest = rig.vertices(rig.neutral()[None])[0][teeth]
    upper = rest[:, 1] > np.median(rest[:, 1])  # the upper arch lies above the lower one
    moved = {name: rig.vertices(rig.params_from_dict({name: 1.0}))[0][teeth] - rest
             for name in ("jawOpen", "jawLeft", "jawForward", "tongueOut", "mouthSmileLeft")}
    assert np.abs(moved["jawOpen"][upper]).max() < 1e-6  # the upper teeth stay with the skull
    drop = -moved["jawOpen"][~upper, 1]
    assert drop.mean() > 0.008 and (drop > 0).all()  # the lower teeth go down with the jaw (metres)
    front = ~upper & (rest[:, 2] > np.percentile(rest[~upper, 2], 80))
    assert moved["jawOpen"][front, 2].mean() < 0  # ... and back: the jaw turns about its hinge
    assert moved["jawLeft"][~upper, 0].mean() > 0.003  # jawLeft swings them to the subject's left (+X)
    assert moved["jawForward"][~upper, 2].mean() > 0.003
    for name in ("tongueOut", "mouthSmileLeft"):  # the tongue and the lips move; the jaw, and so the teeth, do not
        assert np.abs(moved[name]).max() < 1e-6, name
    # The head carries both arches: a nod turns the teeth with the face.
    nod = rig.vertices(rig.params_from_dict({"headPitch": 0.3}))[0][teeth]
    assert np.abs(nod - rest).max() > 0.005


def test_teeth_sit_behind_the_lips_and_in_front_of_the_tongue(arkit_rig):
    rig = arkit_rig
    rest = rig.vertices(rig.neutral()[None])[0]
    teeth = rest[rig.group("teeth")]
    lips = rest[np.concatenate([rig.group("upper_lip"), rig.group("lower_lip")])]
    assert teeth[:, 2].max() < lips[:, 2].min() - 0.003
    lip_width = np.ptp(lips[:, 0])
    assert 0.8 * lip_width < np.ptp(teeth[:, 0]) < 2.5 * lip_width  # sized to the mouth
    contact = lips[:, 1].mean()
    assert teeth[:, 1].min() < contact < teeth[:, 1].max()  # the biting edges meet where the lips do

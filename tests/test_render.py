"""Rendering and the MP4 path: real frames of the face, H.264 + AAC that last as long as the audio."""

import numpy as np
import pytest

from emoanim.audio import load_audio, save_wav
from emoanim.errors import EmoAnimError
from emoanim.render.clip import fit_to_frames, render_video
from tools.probe import probe_media, read_frames
from emoanim.render.renderer import FaceRenderer, RenderConfig, check_color, parse_color
from emoanim.vocabulary import MUX_SAMPLE_RATE

SIZE = 128
BACKGROUND = (1.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def renderer(arkit_rig):
    with FaceRenderer(arkit_rig, RenderConfig(SIZE, SIZE, background=BACKGROUND)) as r:
        yield r


def mouth_box(rig, renderer):
    """Pixel box around the mouth: the camera's projection of the rig's mouth group."""
    neutral = rig.vertices(rig.neutral()[None])[0]
    cols, rows = renderer.project(neutral[rig.group("mouth")]).T
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def test_frames_show_the_face(arkit_rig, renderer):
    image = renderer.render(arkit_rig.vertices(arkit_rig.neutral()[None])[0])
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    face = np.any(image != 255, axis=-1)
    assert 0.25 < face.mean() < 0.9  # the head fills the frame, background around it
    assert face[SIZE // 2, SIZE // 2]  # centred
    assert not face[0, 0] and not face[0, -1]  # background in the corners
    assert image[face].std() > 5  # shaded, not a flat silhouette


def test_mouth_region_changes_with_jaw_open(arkit_rig, renderer):
    closed = renderer.render(arkit_rig.vertices(arkit_rig.neutral()[None])[0]).astype(float)
    opened = renderer.render(arkit_rig.vertices(arkit_rig.params_from_dict({"jawOpen": 1.0}))[0]).astype(float)
    rows, cols = mouth_box(arkit_rig, renderer)
    assert rows.start > SIZE // 2 and rows.stop - rows.start > 5
    mouth_change = np.abs(opened[rows, cols] - closed[rows, cols]).mean()
    forehead_change = np.abs(opened[: SIZE // 4, cols] - closed[: SIZE // 4, cols]).mean()
    assert mouth_change > 10 * max(forehead_change, 0.1)
    # The open mouth shows its interior (tongue, dark cavity): red pixels (lip, tongue and cavity colours,
    # green under 75 % of red) cover much more of the mouth's box than the closed lips do.
    red = lambda image: np.mean(image[rows, cols, 1] < 0.75 * image[rows, cols, 0])  # noqa: E731
    assert red(opened) > 1.6 * red(closed), (red(opened), red(closed))


def test_update_in_place_matches_fresh_renderer(arkit_rig, renderer):
    """Overwriting the vertex buffer gives the same picture as a new scene built for that pose."""
    v = arkit_rig.vertices(arkit_rig.params_from_dict({"jawOpen": 0.7, "headYaw": 0.2}))[0]
    renderer.render(arkit_rig.vertices(arkit_rig.neutral()[None])[0])
    updated = renderer.render(v).astype(int)
    with FaceRenderer(arkit_rig, RenderConfig(SIZE, SIZE, background=BACKGROUND)) as fresh:
        fresh.render(arkit_rig.vertices(arkit_rig.neutral()[None])[0])
        assert np.abs(fresh.render(v).astype(int) - updated).max() <= 2


def test_mp4_with_audio_has_h264_aac_and_right_length(arkit_rig, tmp_path):
    sr, seconds, fps = 22050, 1.3, 25
    t = np.arange(int(sr * seconds)) / sr
    wav = tmp_path / "speech.wav"
    save_wav(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    audio = load_audio(wav, sample_rate=MUX_SAMPLE_RATE)
    params = arkit_rig.params_from_dict({}, 20)  # shorter than the audio: last pose is held
    params[10:, arkit_rig.param_index("jawOpen")] = 1.0
    out = render_video(arkit_rig, params, fps, tmp_path / "out.mp4", audio, MUX_SAMPLE_RATE, RenderConfig(SIZE, SIZE))
    info = probe_media(out)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p" and (info.width, info.height) == (SIZE, SIZE)
    assert info.audio_codec == "aac"
    assert info.num_video_frames == int(np.ceil(seconds * fps))
    assert abs(info.video_duration - seconds) <= 1 / fps
    assert abs(info.audio_duration - seconds) <= 1 / fps
    first, last = list(read_frames(out, [0, info.num_video_frames - 1]))
    with FaceRenderer(arkit_rig, RenderConfig(SIZE, SIZE)) as renderer:
        rows, cols = mouth_box(arkit_rig, renderer)
    assert np.abs(first[rows, cols].astype(float) - last[rows, cols]).mean() > 5  # the jaw opened


def test_silent_video_lasts_as_long_as_the_motion(arkit_rig, tmp_path):
    out = render_video(arkit_rig, arkit_rig.params_from_dict({}, 10), 25, tmp_path / "x.mp4", config=RenderConfig(64, 64))
    info = probe_media(out)
    assert info.num_video_frames == 10 and not info.has_audio


def test_bad_render_inputs_leave_nothing(arkit_rig, tmp_path):
    with pytest.raises(EmoAnimError, match="even"):
        FaceRenderer(arkit_rig, RenderConfig(65, 64))
    with pytest.raises(EmoAnimError, match="does not exist"):
        render_video(arkit_rig, arkit_rig.params_from_dict({}, 3), 25, tmp_path / "nope" / "x.mp4")
    bad = arkit_rig.params_from_dict({}, 3)
    bad[1, 0] = np.inf
    with pytest.raises(EmoAnimError, match="NaN or infinite"):
        render_video(arkit_rig, bad, 25, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_fit_to_frames_and_colours():
    p = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert fit_to_frames(p, 2).tolist() == [[0, 1], [2, 3]]
    assert fit_to_frames(p, 5)[-1].tolist() == [4, 5]
    assert parse_color("#ff0000") == (1.0, 0.0, 0.0)
    assert parse_color("0,0,255") == (0.0, 0.0, 1.0)
    with pytest.raises(EmoAnimError, match="colour"):
        parse_color("blue-ish")


@pytest.mark.parametrize("background", [(1.0, 0.0, 0.0), (0.1, 0.5, 0.9)])
def test_background_colour_fills_the_corners(arkit_rig, background):
    with FaceRenderer(arkit_rig, RenderConfig.square(64, background=background)) as renderer:
        image = renderer.render(arkit_rig.vertices(arkit_rig.neutral()[None])[0]).astype(float)
    expected = 255 * np.array(background)
    for corner in (image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]):
        assert np.abs(corner - expected).max() <= 2, (corner, expected)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"background": (238, 240, 244)}, "from 0 to 1"),  # 0-255 values are refused, not clipped to white
        ({"background": (0.5, 0.5)}, "three numbers"),
        ({"background": "#EEF0F4"}, "parse_color"),
        ({"width": 63, "height": 64}, "even numbers"),
        ({"width": 8, "height": 8}, "from 16 to 2048"),
        ({"width": 64.0, "height": 64}, "whole number"),
    ],
)
def test_render_config_is_checked_when_made(fields, message):
    with pytest.raises(EmoAnimError, match=message):
        RenderConfig(**fields)


def test_check_color_gives_floats():
    assert check_color([1, 0, 0]) == (1.0, 0.0, 0.0)
    assert all(type(v) is float for v in check_color(np.array([0.2, 0.4, 0.6], np.float32)))


def test_action_sweep_turns_the_head_group_by_angles(arkit_rig):
    from emoanim.render.showcase import HEAD_EXTREME, action_sweep

    params, labels = action_sweep(arkit_rig, fps=10, seconds_per_action=1.0)
    assert len(params) == len(labels) == 10 * arkit_rig.num_params
    peaks = dict(zip(arkit_rig.param_names, params.max(axis=0)))
    head = arkit_rig.group_params("head")
    assert head == ("headYaw", "headPitch", "headRoll")
    assert all(abs(peaks[name] - HEAD_EXTREME) < 0.02 for name in head)
    assert all(abs(peaks[name] - 1.0) < 0.05 for name in arkit_rig.param_names if name not in head)


def visible_teeth(rig, poses: list[dict], size: int = 192) -> list[int]:
    """How many pixels of teeth each pose shows: rendered as is and with the teeth painted green, the
    pixels that differ are teeth in sight."""
    import copy

    painted = copy.copy(rig)
    painted.vertex_colors = rig.vertex_colors.copy()
    painted.vertex_colors[rig.group("teeth")] = (0.0, 1.0, 0.0)
    verts = rig.vertices(np.concatenate([rig.params_from_dict(p) for p in poses]))
    config = RenderConfig.square(size)
    with FaceRenderer(rig, config) as plain, FaceRenderer(painted, config) as marked:
        return [int((np.abs(plain.render(v).astype(int) - marked.render(v)).sum(-1) > 30).sum()) for v in verts]


@pytest.mark.parametrize("avatar", ["alex", "otto"])
def test_teeth_show_when_the_jaw_opens_and_never_through_closed_lips(avatar):
    from emoanim.rigs import load_rig

    rig = load_rig("arkit", avatar=avatar)
    closed = [{}, {"mouthRollUpper": 1.0}, {"mouthRollLower": 1.0}, {"mouthPucker": 1.0},
              {"mouthClose": 0.3, "jawOpen": 0.3}, {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}, {"headYaw": 0.5}]
    assert visible_teeth(rig, closed) == [0] * len(closed)
    opening = visible_teeth(rig, [{"jawOpen": j} for j in (0.2, 0.4, 0.7, 1.0)])
    assert opening[1] > 10 and opening[-1] > 60, opening  # (of ~13 000 face pixels at 192 px)
    assert all(a < b for a, b in zip(opening, opening[1:])), opening  # more teeth the wider it opens


def test_open_mouth_is_dark_inside(arkit_rig):
    """Past the teeth an open mouth is a dark cavity, darker than the lips and the skin around it."""
    v = arkit_rig.vertices(arkit_rig.params_from_dict({"jawOpen": 0.7}))[0]
    with FaceRenderer(arkit_rig, RenderConfig.square(256)) as r:
        image = r.render(v).astype(float)
        inside = arkit_rig.group("upper_lip"), arkit_rig.group("lower_lip")
        cols, rows = r.project(v[np.concatenate(inside)]).T
    upper_lip_row = int(r.project(v[inside[0]])[:, 1].mean())
    lower_lip_row = int(r.project(v[inside[1]])[:, 1].mean())
    middle = image[(upper_lip_row + lower_lip_row) // 2 - 2 : (upper_lip_row + lower_lip_row) // 2 + 3,
                   int(cols.mean()) - 4 : int(cols.mean()) + 5]
    cheek = image[upper_lip_row, int(cols.max()) + 15]
    assert middle.mean() < 0.5 * cheek.mean(), (middle.mean(), cheek.mean())

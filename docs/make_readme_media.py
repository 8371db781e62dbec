"""Make the README's pictures of the product from the shipped checkpoints.

    python docs/make_readme_media.py [--checkpoints checkpoints] [--out docs]

writes, into ``--out``:

- ``app_screenshot.png``: the Gradio app (``app.py``), served in this process and driven by
  Debian's headless ``chromium`` through Playwright (``tools.browser``, as the real-browser tests
  do): it uploads ``assets/happy.ogg``, picks *happy* at intensity 3, clicks Generate (a 256 px
  video, ``--screenshot-size``), waits for the video, parks it on a frame and takes a full-page
  screenshot 1280 px wide;
- ``emotion_strip.png``: one speech clip (``--clip``, default ``assets/angry.wav``) animated by
  ``emoanim.pipeline.Animator`` with neutral, happy, sad, angry and surprised at intensity 3 (same
  seed, guidance and steps), each rendered at the same four moments (256 px frames; the moments
  are snapped to where the mouth is open), laid out as a labelled grid, rows = emotions;
- ``demo.gif``: the first 3 s of the *happy* take of the same clip, 256 px (no sound, of course).

``--only strip gif`` makes a subset. Needs what ``make test`` installs (Playwright and the
``chromium`` apt package for the screenshot; offscreen OpenGL for the renders). On a 2-core CPU it
takes under a minute. Deterministic apart from the screenshot's browser rendering.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package and app.py, without installing anything
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import emoanim.render  # noqa: E402,F401  (chooses the GL platform before anything imports OpenGL)
from emoanim.fileio import atomic_write  # noqa: E402
from emoanim.pipeline import Animator, AnimatorConfig, EmotionSource  # noqa: E402
from emoanim.render.renderer import FaceRenderer  # noqa: E402

EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised")
INTENSITY = 3
FRAME_PX = 256
MOMENTS = 4  # frames per emotion in the strip
GIF_EMOTION = "happy"
GIF_SECONDS = 3.0
SCREENSHOT_WIDTH = 1280
MAX_STRIP_BYTES = 1_000_000
MAX_GIF_BYTES = 2_000_000
BROWSER_TIMEOUT_MS = 180_000


def load_animator(checkpoints: Path, device: str | None) -> Animator:
    return Animator.from_pretrained(checkpoints, device=device, config=AnimatorConfig(size=FRAME_PX))


# ---- the emotion strip and the GIF ---------------------------------------------------------------


def animate_emotions(animator, clip: Path, emotions, seed: int, steps: int | None, guidance: float | None) -> dict:
    """emotion -> Motion of ``clip`` with that emotion at ``INTENSITY`` (same seed: only the emotion differs)."""
    return {emotion: animator.animate(clip, EmotionSource.label(emotion, INTENSITY), guidance=guidance, steps=steps,
                                      seed=seed) for emotion in emotions}


def pick_frames(motions: dict, count: int = MOMENTS, snap_s: float = 0.12) -> list[int]:
    """``count`` frame indices spread over the clip (20% to 80% of it), each moved by up to ``snap_s``
    to where the jaw is most open on average over the emotions: mouth shapes are what differ."""
    first = next(iter(motions.values()))
    frames = min(m.num_frames for m in motions.values())
    centres = np.round(np.linspace(0.2, 0.8, count) * (frames - 1)).astype(int)
    if "jawOpen" not in first.names:
        return [int(c) for c in centres]
    jaw = np.mean([m.params[:frames, list(m.names).index("jawOpen")] for m in motions.values()], axis=0)
    reach = max(0, int(round(snap_s * first.fps)))
    picked = []
    for c in centres:
        lo, hi = max(0, c - reach), min(frames, c + reach + 1)
        picked.append(int(lo + np.argmax(jaw[lo:hi])))
    return picked


def render_frames(animator, motion, indices, size: int = FRAME_PX) -> list[np.ndarray]:
    """The pipeline's avatar rendered at ``motion``'s frames ``indices`` -> RGB uint8 [size, size, 3] each."""
    rig = animator.rig()
    params = motion.for_rig().params
    with FaceRenderer(rig, animator.render_config(size)) as renderer:
        return [renderer.render(v).copy() for v in rig.vertices(params[list(indices)])]


def strip_image(rows: dict[str, list[np.ndarray]], times: list[float], caption: str):
    """Rows of equally sized frames with the emotion names on the left and the times on top."""
    size = next(iter(rows.values()))[0].shape[0]
    gap, left, top, foot = 6, 170, 40, 30
    columns = len(times)
    width = left + columns * (size + gap)
    height = top + len(rows) * (size + gap) + foot
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=22)
    small = ImageFont.load_default(size=16)
    for c, t in enumerate(times):
        x = left + c * (size + gap) + size // 2
        draw.text((x, top // 2), f"t = {t:.2f} s", fill=(40, 40, 50), font=font, anchor="mm")
    for r, (name, frames) in enumerate(rows.items()):
        y = top + r * (size + gap)
        draw.text((left - 16, y + size // 2), name, fill=(30, 30, 40), font=font, anchor="rm")
        for c, frame in enumerate(frames):
            canvas.paste(Image.fromarray(frame), (left + c * (size + gap), y))
    draw.text((width // 2, height - foot // 2), caption, fill=(90, 90, 100), font=small, anchor="mm")
    return canvas


def save_png(image, path: Path, max_bytes: int) -> Path:
    """PNG, optimised; reduced to a 256-colour palette if it would be larger than ``max_bytes``."""
    atomic_write(path, lambda f: image.save(f, format="PNG", optimize=True), binary=True)
    if path.stat().st_size > max_bytes:
        small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        atomic_write(path, lambda f: small.save(f, format="PNG", optimize=True), binary=True)
    return path


def make_strip(animator, motions: dict, clip: Path, out: Path, seed: int, guidance: float | None = None) -> Path:
    indices = pick_frames(motions)
    fps = next(iter(motions.values())).fps
    rows = {f"{name} ({INTENSITY})" if name != "neutral" else name: render_frames(animator, m, indices)
            for name, m in motions.items()}
    g = animator.sampling(guidance, seed=seed).guidance  # what animate_emotions sampled with
    caption = (f"the same speech ({clip.name}), seed {seed}, guidance {g:g}: only the emotion changes "
               f"(intensity in brackets)")
    return save_png(strip_image(rows, [i / fps for i in indices], caption), out, MAX_STRIP_BYTES)


def make_gif(animator, motion, out: Path, seconds: float = GIF_SECONDS) -> Path:
    """The first ``seconds`` of ``motion`` as a looping GIF; every second frame if the full rate is too big."""
    count = min(motion.num_frames, int(round(seconds * motion.fps)))
    frames = render_frames(animator, motion, range(count))
    # One palette for every frame (from a few of them), no dithering: small and flicker-free.
    sample = Image.fromarray(np.concatenate(frames[:: max(1, count // 8)], axis=0))
    palette = sample.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    for stride in (1, 2, 3):
        images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames[::stride]]
        duration = int(round(1000 * stride / motion.fps))
        atomic_write(out, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                   duration=duration, loop=0, optimize=False), binary=True)
        if out.stat().st_size <= MAX_GIF_BYTES:
            break
    return out


# ---- the app screenshot --------------------------------------------------------------------------


def make_screenshot(animator, out: Path, speech: Path, emotion: str = "happy", size: int = FRAME_PX) -> Path:
    from playwright.sync_api import sync_playwright  # lazy: only the screenshot needs a browser

    import app  # lazy: start-up time (gradio)
    from tools.browser import launch_chromium, serve, upload_speech, wait_for_video

    demo = app.build_demo(animator, size=size)
    with serve(demo, allowed_paths=[ROOT / "assets"]) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport={"width": SCREENSHOT_WIDTH, "height": 900}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(BROWSER_TIMEOUT_MS)
            page.goto(url)
            page.locator("#generate").wait_for()
            upload_speech(page, speech)
            page.locator("#emotion input").click()
            page.get_by_role("option", name=emotion, exact=True).click()
            page.locator("#intensity").get_by_text(str(INTENSITY)).click()
            page.locator("#generate").click()
            wait_for_video(page, timeout_ms=BROWSER_TIMEOUT_MS)
            page.locator("#curves img").wait_for()
            # Park the video on a frame a little into the clip, so the screenshot shows a face mid-word.
            page.evaluate("""async () => {
                const v = document.querySelector('#result-video video');
                v.muted = true; v.pause();
                await new Promise(r => {
                    v.addEventListener('seeked', r, {once: true});
                    v.currentTime = v.duration * 0.4;
                });
            }""")
            page.wait_for_timeout(500)  # let the progress/toast animations settle
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


# ---- command line -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints", help="the trained model folder")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the pictures go")
    parser.add_argument("--clip", type=Path, default=ROOT / "assets" / "angry.wav", help="speech for the strip/GIF")
    parser.add_argument("--screenshot-clip", type=Path, default=ROOT / "assets" / "happy.ogg")
    parser.add_argument("--screenshot-size", type=int, default=FRAME_PX,
                        help="video pixels in the screenshot (the page shows it ~600 px wide; 256 keeps it fast)")
    parser.add_argument("--only", nargs="+", choices=("screenshot", "strip", "gif"),
                        default=["screenshot", "strip", "gif"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the pipeline's)")
    parser.add_argument("--guidance", type=float, default=None, help="guidance weight (default: the pipeline's)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when present")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    animator = load_animator(args.checkpoints, args.device)
    print(f"loaded {args.checkpoints} on {animator.config.device} ({time.perf_counter() - t0:.1f} s)")
    if "strip" in args.only or "gif" in args.only:
        t = time.perf_counter()
        emotions = EMOTIONS if "strip" in args.only else (GIF_EMOTION,)
        motions = animate_emotions(animator, args.clip, emotions, args.seed, args.steps, args.guidance)
        print(f"animated {args.clip.name} with {', '.join(emotions)} ({time.perf_counter() - t:.1f} s)")
        if "strip" in args.only:
            t = time.perf_counter()
            path = make_strip(animator, motions, args.clip, args.out / "emotion_strip.png", args.seed,
                              args.guidance)
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - t:.1f} s)")
        if "gif" in args.only:
            t = time.perf_counter()
            path = make_gif(animator, motions[GIF_EMOTION], args.out / "demo.gif")
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - t:.1f} s)")
    if "screenshot" in args.only:
        t = time.perf_counter()
        path = make_screenshot(animator, args.out / "app_screenshot.png", args.screenshot_clip,
                               size=args.screenshot_size)
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - t:.1f} s)")
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

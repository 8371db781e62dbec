"""Driving the Gradio app from a real browser: a system chromium under Playwright, headless.

Shared by the real-browser tests (``tests/test_app.py``) and the README screenshot
(``docs/make_readme_media.py``). Playwright's own browser download does not work offline, so a
system chromium is launched through ``executable_path``: ``$CHROMIUM`` when set, else the first of
``CHROMIUM_NAMES`` on PATH (``apt-get install chromium``; ``make test`` does it). Needs the
``playwright`` Python package (requirements-dev.txt), imported lazily.
"""

from __future__ import annotations

import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

CHROMIUM_ARGS = ("--no-sandbox", "--autoplay-policy=no-user-gesture-required")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MISSING = ("no chromium found: install one (apt-get install chromium; `make test` does it) or set CHROMIUM to "
           "its executable")


def find_chromium() -> str | None:
    """The chromium executable: ``$CHROMIUM`` (which must exist), else the first of ``CHROMIUM_NAMES`` on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            raise RuntimeError(f"CHROMIUM={configured} is not a file: point it at a chromium executable")
        return configured
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


def launch_chromium(playwright, executable: str | None = None):
    """A headless chromium ``Browser`` from a started ``sync_playwright()`` (autoplay allowed)."""
    executable = executable or find_chromium()
    if executable is None:
        raise RuntimeError(MISSING)
    return playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(demo, allowed_paths: Sequence[str | Path] = ()) -> Iterator[str]:
    """Launch a Gradio ``Blocks`` in this process on a free local port; yields its URL (no trailing /)."""
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(p) for p in allowed_paths])
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()


def upload_speech(page, path: str | Path, elem: str = "#speech") -> None:
    """Put a file into the app's speech input and wait until the audio player shows it."""
    page.locator(f"{elem} input[type=file]").set_input_files(str(path))
    page.locator(f"{elem} audio, {elem} .waveform-container, {elem} [data-testid='waveform-x']").first.wait_for(
        state="attached")


def set_steps(page, steps: int) -> None:
    box = page.locator("#steps input[type=number]")
    box.fill(str(steps))
    box.press("Enter")


def wait_for_video(page, min_duration: float = 0.0, timeout_ms: float = 90_000) -> None:
    """Wait until the result video has loaded a frame (and is longer than ``min_duration`` seconds)."""
    page.wait_for_function(
        "(d) => { const v = document.querySelector('#result-video video');"
        " return v !== null && v.readyState >= 2 && v.duration > d; }", arg=min_duration, timeout=timeout_ms)

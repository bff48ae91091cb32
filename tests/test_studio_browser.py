"""`gendisco studio` in a real browser: Playwright for Python driving Debian's Chromium.

One studio (the real CLI, in a subprocess) serves a copy of the demo project, made small for
the CPU (64x64 pixels, 4 frames/s) and with a gap at its end (14-16 s). The tests then walk
through the workspace as a user would, in order, each leaving a screenshot in the artifacts
folder (printed at the end; GENDISCO_STUDIO_SCREENSHOTS=folder keeps them there):
waveform and beats, a new interval dragged over the gap, prompts typed and saved, images
explored and one dragged onto an interval's start, a render streamed into the tracks, the
video playing under the waveform's playhead, an invalid edit refused, and a change made to
the file by another program picked up.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install -y chromium)", allow_module_level=True
    )
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the studio test extra")
pytest.importorskip("fastapi", reason="needs the studio extra")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "projects" / "demo"
TIMEOUT_MS = 60_000
RENDER_TIMEOUT_MS = 300_000  # renders share two cores with the rest of the suite


def _small_demo(folder: Path) -> Path:
    """The demo project at 64x64 and 4 fps, its last interval ending at 14 s (a gap to 16 s)."""
    shutil.copy(DEMO / "song.ogg", folder / "song.ogg")
    text = (DEMO / "demo.yaml").read_text()
    text = re.sub(r"(?m)^width: 256 ", "width: 64  ", text)
    text = re.sub(r"(?m)^height: 256$", "height: 64", text)
    text = re.sub(r"(?m)^fps: 12 ", "fps: 4  ", text)
    text = text.replace("    end: 16.0\n", "    end: 14.0\n")
    assert text.count("64") >= 2 and "end: 14.0" in text
    path = folder / "demo.yaml"
    path.write_text(text)
    return path


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _wait_for(condition, timeout_s: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    kept = os.environ.get("GENDISCO_STUDIO_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("studio-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    print(f"\nstudio screenshots: {folder}")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, project path, process) of a studio running through the real CLI."""
    folder = tmp_path_factory.mktemp("studio-project")
    project = _small_demo(folder)
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(folder / "cache")}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gendisco", "studio", str(project), "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise AssertionError(f"no URL from gendisco studio: {url!r} {process.stderr.read()}")
    yield url, project, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


@pytest.fixture(scope="module")
def page(studio):
    url, _, _ = studio
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--autoplay-policy=no-user-gesture-required"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.wait_for_selector("body[data-ready]")
        page.wait_for_selector("body[data-analysis]")
        yield page
        assert not errors, f"errors in the page: {errors}"
        browser.close()


def _x_of(page, seconds: float) -> float:
    box = page.locator("#waveform").bounding_box()
    return box["x"] + page.evaluate(f"window.gendiscoStudio.waveform.x({seconds})")


def _y_mid(page) -> float:
    box = page.locator("#waveform").bounding_box()
    return box["y"] + 64


def _select(page, index: int, at_s: float) -> None:
    page.mouse.click(_x_of(page, at_s), _y_mid(page))
    page.wait_for_function(f"window.gendiscoStudio.state.selected === {index}")


def _saved(page, what: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('#status').textContent.includes(text)", arg=what
    )


def test_waveform_is_drawn_with_beat_marks(page, artifacts):
    from PIL import Image

    page.screenshot(path=str(artifacts / "1-waveform.png"))
    shot = Image.open(io.BytesIO(page.locator("#waveform").screenshot())).convert("L")
    pixels = list(shot.tobytes())
    background = max(set(pixels), key=pixels.count)
    drawn = sum(abs(p - background) > 40 for p in pixels)
    assert drawn > 0.05 * len(pixels), "the waveform canvas is blank"

    # beat ticks: the marks overlay has ink in its bottom rows at one column per beat
    columns = page.evaluate(
        """() => {
        const canvas = document.querySelector('#marks');
        const ratio = canvas.width / canvas.clientWidth;
        const row = canvas.getContext('2d').getImageData(
            0, canvas.height - Math.round(3 * ratio), canvas.width, 1).data;
        let runs = 0, inside = false;
        for (let x = 0; x < canvas.width; x++) {
            const ink = row[4 * x + 3] > 0;
            if (ink && !inside) runs++;
            inside = ink;
        }
        return runs;
    }"""
    )
    beats = page.evaluate("window.gendiscoStudio.state.analysis.beats.length")
    assert beats >= 24  # 16 s at 120 BPM
    assert columns >= 0.8 * beats


def test_dragging_over_the_gap_creates_an_interval(page, studio, artifacts):
    _, project, _ = studio
    y = _y_mid(page)
    page.mouse.move(_x_of(page, 14.3), y)
    page.mouse.down()
    page.mouse.move(_x_of(page, 15.0), y, steps=5)
    page.mouse.move(_x_of(page, 15.8), y, steps=5)
    page.mouse.up()
    _saved(page, "new interval 3")
    page.screenshot(path=str(artifacts / "2-new-interval.png"))
    intervals = _load(project)["intervals"]
    assert len(intervals) == 4
    new = intervals[3]
    assert 14.0 <= float(new["start"]) < 14.6 and 15.4 < float(new["end"]) <= 16.0
    assert new["hold"]["prompt"] == "the sea at night, violet"


def test_typing_prompts_and_saving_keeps_the_comments(page, studio, artifacts):
    _, project, _ = studio
    before = project.read_text()
    _select(page, 0, 4.0)
    page.fill('[data-field="to.prompt"]', "a city skyline at night, neon rain")
    page.click("#save")
    _saved(page, "saved interval 0")
    page.screenshot(path=str(artifacts / "3-prompt-saved.png"))
    after = project.read_text()
    assert _load(project)["intervals"][0]["to"]["prompt"] == "a city skyline at night, neon rain"
    comments = [line.split("#", 1)[1] for line in before.splitlines() if "#" in line]
    for comment in comments:
        if "keeps seed 7" not in comment:  # the comment of the line that changed stays too
            assert comment in after
    assert "# keeps seed 7: same city, new colors" in after
    assert after.splitlines()[:8] == before.splitlines()[:8]


def test_explore_then_drag_an_image_onto_start(page, studio, artifacts):
    _, project, _ = studio
    page.fill("#explore-prompt", "a red lighthouse on a cliff")
    page.fill("#explore-seeds", "4")
    page.fill("#explore-first", "20")
    page.click("#explore button[type=submit]")
    page.wait_for_function(
        "document.querySelectorAll('#images img').length === 4 && "
        "[...document.querySelectorAll('#images img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=RENDER_TIMEOUT_MS,
    )
    page.drag_and_drop("#images figure >> nth=2", "#start-zone")
    _saved(page, "saved interval 0 start")
    page.screenshot(path=str(artifacts / "4-explored-image-on-start.png"))
    start = _load(project)["intervals"][0]["from"]
    assert start == {"prompt": "a red lighthouse on a cliff", "seed": 22}
    assert page.locator("#start-zone .end-image").is_visible()


def test_generate_streams_progress_and_the_clip_appears(page, studio, artifacts):
    _, project, _ = studio
    page.evaluate(
        """() => {
        window.progressSeen = [];
        new MutationObserver(() => window.progressSeen.push(
            document.querySelector('#progress-text').textContent)).observe(
            document.querySelector('#progress-text'), {childList: true, characterData: true,
            subtree: true});
    }"""
    )
    _select(page, 1, 10.0)
    assert page.locator('.track[data-interval="1"]').get_attribute("data-state") == "missing"
    page.click("#render-one")
    page.wait_for_selector(
        '.track[data-interval="1"][data-state="rendered"]', timeout=RENDER_TIMEOUT_MS
    )
    page.screenshot(path=str(artifacts / "5-generated.png"))
    seen = page.evaluate("window.progressSeen")
    assert any(re.search(r"\d+/16 frames", text) for text in seen), seen
    assert page.evaluate("window.gendiscoStudio.jobs.events") >= 3
    clips = list((project.parent / "renders" / "demo" / "clips").glob("001-00-*.mp4"))
    assert len(clips) == 1
    assert page.locator('.track[data-interval="1"] img').evaluate("i => i.naturalWidth") > 0


def test_the_video_plays_with_the_playhead(page, studio, artifacts):
    _, project, _ = studio
    # As a slow server would: every answer about the tracks arrives only after the render has
    # ended, so the refresh asked for at its end is asked while an older one is in flight.
    page.evaluate(
        """() => {
        const jobs = window.gendiscoStudio.jobs.jobs, before = new Set(jobs.keys());
        const ended = () => [...jobs.values()].some(
            (job) => job.kind === "render" && job.state === "done" && !before.has(job.id));
        window.plainFetch = window.fetch;
        window.fetch = async (...args) => {
            const response = await window.plainFetch(...args);
            if (String(args[0]).startsWith("/api/tracks")) {
                while (!ended()) await new Promise((wake) => setTimeout(wake, 50));
            }
            return response;
        };
    }"""
    )
    page.click("#render-all")
    page.wait_for_function(
        "(() => { const t = window.gendiscoStudio.state.tracks; return t && t.final.exists && "
        "!t.final.stale && (document.querySelector('#video').src || '')"
        ".includes('final.mp4'); })()",
        timeout=RENDER_TIMEOUT_MS,
    )
    page.evaluate("window.fetch = window.plainFetch")
    assert (project.parent / "renders" / "demo" / "final.mp4").is_file()
    page.wait_for_function("document.querySelector('#video').readyState >= 2")
    _select(page, 0, 4.0)  # its start shows the explored image dropped on it
    page.click("#play")
    page.wait_for_function("document.querySelector('#video').currentTime > 1.0")
    song_s, video_s, playhead = page.evaluate(
        """() => [window.gendiscoStudio.waveform.ws.getCurrentTime(),
                  document.querySelector('#video').currentTime,
                  parseFloat(document.querySelector('#tracks .playhead').style.left)]"""
    )
    page.screenshot(path=str(artifacts / "6-playing.png"), full_page=True)
    page.click("#play")  # pause
    # final.mp4 starts at the first interval (0 s): the song's clock is the video's
    assert abs(song_s - video_s) < 0.4, (song_s, video_s)
    assert playhead > 0


def test_an_invalid_edit_shows_its_message_and_leaves_the_file(page, studio, artifacts):
    _, project, _ = studio
    _select(page, 1, 10.0)
    before, mtime = project.read_bytes(), project.stat().st_mtime_ns
    page.fill('[data-field="hold.pulse"]', "1.5")
    page.click("#save")
    message = page.locator('.field-error[data-error="hold.pulse"]')
    message.wait_for(state="visible")
    assert message.text_content() == "must be at most 1 (got 1.5)"
    assert "intervals.1.hold.pulse: must be at most 1" in page.text_content("#status")
    page.screenshot(path=str(artifacts / "7-invalid-edit.png"))
    assert project.read_bytes() == before and project.stat().st_mtime_ns == mtime


def test_a_change_made_by_another_program_is_picked_up(page, studio, artifacts):
    _, project, _ = studio
    text = project.read_text()
    assert '"a mirror disco ball at night, violet"' in text
    project.write_text(text.replace('"a mirror disco ball at night, violet"', '"a glitter cat"'))
    _saved(page, "the project file changed on disk: reloaded")
    assert page.input_value('[data-field="hold.prompt"]') == "a glitter cat"
    page.screenshot(path=str(artifacts / "8-changed-on-disk.png"))


def test_ctrl_c_stops_the_server_with_130(page, studio):
    _, _, process = studio
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130

"""How fast the studio opens and saves: page ready (waveform drawn) and an edit round trip.

Run: .venv/bin/python benchmarks/studio_speed.py [--long-seconds 600] [--repeats 3] [--edits 30]

For the demo project (16 s) and a 10-minute song (the demo song looped, as mp3, scaffolded
with `gendisco init`'s library function), each repeat starts `gendisco studio` in a fresh
process with an empty analysis cache and opens the page in Debian's Chromium (headless,
Playwright):

- server up: process start to the URL printed;
- page ready, first open: navigation start to the waveform drawn (from server-side peaks),
  on the server just started (its peaks and analysis are computed from that moment on);
- page ready, reopened: the same in a fresh browser context once the server is warm;
- beats drawn: navigation start to the analysis drawn over the waveform, on the first open;
- edit round trip: PATCH /api/project (validate with load_project + save with comments
  kept) as the page sends it, timed by the client over HTTP; and `ProjectFile.edit` alone.

Targets: page ready <= 1 s (demo), <= 2 s (10-minute song); edit round trip <= 50 ms.
Writes the `studio-speed` section of BENCHMARKS.md and every measurement as JSON rows to
benchmarks/results/studio_speed.json, with the machine, versions and load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import describe, environment, write_results, write_section

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "projects" / "demo"
CHROMIUM = "/usr/bin/chromium"


def write_long_song(path: Path, seconds: float) -> None:
    """The demo song looped to `seconds`, encoded as mp3 (what most users bring)."""
    import av
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(DEMO / "song.ogg", dtype="float32", always_2d=True)
    total = int(seconds * rate)
    looped = np.tile(samples, (int(np.ceil(total / len(samples))), 1))[:total]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "stereo" if looped.shape[1] == 2 else "mono"
        step = 1152 * 64
        for start in range(0, total, step):
            chunk = np.ascontiguousarray(looped[start : start + step].T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=stream.layout.name)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def make_projects(folder: Path, long_seconds: float) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "src"))
    from gendisco.scaffold import init_project

    demo = folder / "demo"
    demo.mkdir()
    shutil.copy(DEMO / "song.ogg", demo / "song.ogg")
    shutil.copy(DEMO / "demo.yaml", demo / "demo.yaml")
    long = folder / "long"
    long.mkdir()
    write_long_song(long / "song.mp3", long_seconds)
    os.environ["GENDISCO_CACHE_DIR"] = str(folder / "scaffold-cache")
    init_project(long / "song.mp3", long / "song.yaml", model="tiny")
    return {
        "demo (16 s)": demo / "demo.yaml",
        f"{long_seconds / 60:g}-minute song": long / "song.yaml",
    }


def start_studio(project: Path, cache: Path) -> tuple[subprocess.Popen, str, float]:
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gendisco", "studio", str(project), "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise SystemExit(f"gendisco studio did not start for {project}")
    return process, url, time.perf_counter() - started


def open_page(browser, url: str) -> dict[str, float]:
    """(waveform drawn, analysis drawn) in ms from navigation start, in a fresh context."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready]", timeout=60_000)
    page.wait_for_selector("body[data-analysis]", timeout=120_000)
    times = page.evaluate(
        "({ready: window.gendiscoStudio.readyMs, analysis: window.gendiscoStudio.analysisMs})"
    )
    context.close()
    return times


def edit_round_trips(url: str, count: int) -> list[float]:
    import httpx

    base, token = url.split("/?token=")
    timings = []
    with httpx.Client(base_url=base, headers={"X-Gendisco-Token": token}) as client:
        version = client.get("/api/project").json()["version"]
        for i in range(count):
            op = {
                "op": "merge",
                "path": ["intervals", 0],
                "value": {"reactivity": 0.5 if i % 2 else 0.75},
            }
            started = time.perf_counter()
            answer = client.patch("/api/project", json={"version": version, "ops": [op]})
            timings.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            version = answer.json()["version"]
    return timings


def in_process_edits(project: Path, count: int) -> list[float]:
    from gendisco.studio.edits import EditOp, ProjectFile

    file = ProjectFile(project)
    version = file.read().version
    timings = []
    for i in range(count):
        op = EditOp(op="merge", path=["intervals", 0], value={"reactivity": 0.6 if i % 2 else 0.7})
        started = time.perf_counter()
        version = file.edit([op], version).version
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("needs Debian's Chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    rows: list[dict] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        projects = make_projects(folder, args.long_seconds)
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for repeat in range(args.repeats):
            for name, project in projects.items():  # interleaved: drift hits both alike
                cache = folder / f"cache-{repeat}-{project.parent.name}"
                process, url, server_s = start_studio(project, cache)
                try:
                    first = open_page(browser, url)
                    again = open_page(browser, url)
                    http_edits = edit_round_trips(url, args.edits)
                finally:
                    process.terminate()
                    process.wait(timeout=60)
                direct = in_process_edits(project, args.edits)
                row = {
                    "case": name,
                    "repeat": repeat,
                    "server_up_s": round(server_s, 3),
                    "ready_first_ms": round(first["ready"], 1),
                    "ready_again_ms": round(again["ready"], 1),
                    "beats_first_ms": round(first["analysis"], 1),
                    "edit_http_ms": [round(t, 2) for t in http_edits],
                    "edit_direct_ms": [round(t, 2) for t in direct],
                }
                rows.append(row)
                print(
                    f"{name} #{repeat}: server {server_s:.2f} s, ready {first['ready']:.0f} / "
                    f"{again['ready']:.0f} ms, beats {first['analysis']:.0f} ms, edit "
                    f"{statistics.median(http_edits):.1f} ms",
                    flush=True,
                )
        browser.close()
    load_after = os.getloadavg()[0]

    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    env = environment(" ".join(["python benchmarks/studio_speed.py", *sys.argv[1:]]))
    load = {"before": round(load_before, 2), "after": round(load_after, 2)}
    write_results("studio_speed", rows, env, chromium=chromium, load_average=load)
    busy = load_before > 1.5 or load_after > 1.5  # a 2-core machine doing other work too
    lines = [
        "## Studio: page ready and edit round trip",
        "",
        f"{describe(env)} {chromium}, headless through Playwright. Load average "
        f"{load_before:.1f} before and {load_after:.1f} after"
        + (
            " (the machine was shared with other work: absolute times are upper bounds)"
            if busy
            else ""
        )
        + ". Each repeat starts `gendisco studio` "
        "afresh with an empty analysis cache. Page ready = navigation start to the waveform "
        "drawn (server-side peaks); first open = right after the server printed its URL, "
        "reopened = a fresh browser context on the warm server. Edit = PATCH /api/project "
        f"(validate with `load_project`, save keeping comments), {args.edits} per repeat, "
        f"over HTTP and `ProjectFile.edit` alone. Medians of {args.repeats} repeats, with "
        "the best (on a busy machine the best is the closest to an idle one's), and for "
        "edits the median, best and p95 of all.",
        "",
        "| project | server up s | page ready, first open ms | page ready, reopened ms "
        "| beats drawn, first open ms | edit over HTTP ms | validate + save ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in projects:
        mine = [row for row in rows if row["case"] == name]

        def spread(key: str, mine=mine, digits: int = 0) -> str:
            values = [row[key] for row in mine]
            return f"{statistics.median(values):.{digits}f} (best {min(values):.{digits}f})"

        http = [t for row in mine for t in row["edit_http_ms"]]
        direct = [t for row in mine for t in row["edit_direct_ms"]]
        lines.append(
            f"| {name} | {spread('server_up_s', digits=2)} | {spread('ready_first_ms')} "
            f"| {spread('ready_again_ms')} | {spread('beats_first_ms')} "
            f"| {statistics.median(http):.1f} (best {min(http):.1f}, p95 {p95(http):.1f}) "
            f"| {statistics.median(direct):.1f} (best {min(direct):.1f}) |"
        )
    lines += ["", "Targets: page ready <= 1000 ms (demo), <= 2000 ms (10 minutes); edit <= 50 ms."]
    text = "\n".join(lines)
    print(text)
    write_section("studio-speed", text)


if __name__ == "__main__":
    main()

"""The studio's HTTP API through FastAPI's TestClient, on a small copy of the demo project.

Every endpoint, with the user's mistakes (unknown interval, invalid field, read-only key, a
file changed on disk) and an attacker's (no token, another Host, another Origin, paths out
of the project's folders) answered with a clear 4xx and nothing written. The event stream
and the `gendisco studio` command run on a real server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi", reason="needs the studio extra: pip install 'gendisco[studio]'")
from fastapi.testclient import TestClient  # noqa: E402

from gendisco.studio.app import create_app  # noqa: E402
from gendisco.studio.edits import InvalidEdit  # noqa: E402
from gendisco.studio.jobs import PipelineCache  # noqa: E402
from gendisco.studio.security import Guard  # noqa: E402
from gendisco.studio.workspace import Workspace  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "projects" / "demo"
TOKEN = "test-token-0123456789"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
AUTH = {"X-Gendisco-Token": TOKEN}


def small_demo(folder: Path) -> Path:
    """The demo project at 64x64 pixels and 4 frames/s: the same file, cheap to render."""
    shutil.copy(DEMO / "song.ogg", folder / "song.ogg")
    text = (DEMO / "demo.yaml").read_text()
    text = re.sub(r"(?m)^width: 256 ", "width: 64  ", text)
    text = re.sub(r"(?m)^height: 256$", "height: 64", text)
    text = re.sub(r"(?m)^fps: 12 ", "fps: 4  ", text)
    path = folder / "demo.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def pipelines() -> PipelineCache:
    """One tiny pipeline for the module: loaded by the first model job, kept after."""
    return PipelineCache()


@pytest.fixture(scope="module")
def analysis_cache(tmp_path_factory) -> Path:
    """Analyses are cached by the song's content: one analysis of the demo for the module."""
    return tmp_path_factory.mktemp("analysis-cache")


@pytest.fixture
def project(tmp_path, monkeypatch, analysis_cache) -> Path:
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(analysis_cache))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return small_demo(tmp_path)


@pytest.fixture
def workspace(project, pipelines):
    ws = Workspace(project)
    ws.pipelines = pipelines
    yield ws
    assert ws.close(60)


@pytest.fixture
def client(workspace):
    app = create_app(workspace, Guard(token=TOKEN, port=PORT))
    with TestClient(app, base_url=BASE, headers=AUTH) as test_client:
        yield test_client


def version(client) -> str:
    return client.get("/api/project").json()["version"]


def edit(client, *ops, at: str | None = None):
    return client.patch("/api/project", json={"version": at or version(client), "ops": list(ops)})


def merge(path, value) -> dict:
    return {"op": "merge", "path": path, "value": value}


def unchanged(project: Path):
    """Context: the project file's bytes and mtime are the same afterwards."""

    class Same:
        def __enter__(self):
            self.before = (project.read_bytes(), project.stat().st_mtime_ns)

        def __exit__(self, *exc):
            if exc[0] is None:
                assert (project.read_bytes(), project.stat().st_mtime_ns) == self.before

    return Same()


def wait_job(client, job_id: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = next(j for j in client.get("/api/jobs").json() if j["id"] == job_id)
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


# -- security ---------------------------------------------------------------------------

ROUTES = [
    ("GET", "/"),
    ("GET", "/static/js/main.js"),
    ("GET", "/api/project"),
    ("PATCH", "/api/project"),
    ("GET", "/api/status"),
    ("GET", "/api/peaks"),
    ("GET", "/api/analysis"),
    ("GET", "/api/intervals/0/curve"),
    ("GET", "/api/tracks"),
    ("GET", "/api/thumbs/x.mp4"),
    ("GET", "/api/jobs"),
    ("POST", "/api/jobs/render"),
    ("POST", "/api/jobs/explore"),
    ("POST", "/api/jobs/1/cancel"),
    ("GET", "/api/explore/1/0.png"),
    ("POST", "/api/brainstorm"),
    ("GET", "/api/events"),
    ("GET", "/media/song"),
    ("GET", "/media/output/final.mp4"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_request_without_the_token_succeeds(client, project, method, path):
    body = {"version": "x", "ops": [merge(["fps"], 1)]} if method == "PATCH" else {}
    with unchanged(project):
        for headers in ({"X-Gendisco-Token": ""}, {"X-Gendisco-Token": "wrong"}):
            response = client.request(method, path, headers=headers, json=body)
            assert response.status_code == 401, path
            assert "token" in response.json()["error"]
    assert not client.get("/api/jobs").json()  # nothing was queued either


def test_the_url_token_sets_a_cookie_that_then_suffices(workspace):
    app = create_app(workspace, Guard(token=TOKEN, port=PORT))
    with TestClient(app, base_url=BASE) as browser:
        assert browser.get("/api/project").status_code == 401
        page = browser.get(f"/?token={TOKEN}")
        assert page.status_code == 200 and "gendisco studio" in page.text
        assert "httponly" in page.headers["set-cookie"].lower()
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        assert browser.get("/api/project").status_code == 200  # by the cookie alone


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "192.168.1.20:8765"])
def test_another_host_is_refused(client, project, host):
    with unchanged(project):
        response = client.patch(
            "/api/project",
            json={"version": version(client), "ops": [merge(["fps"], 8)]},
            headers={"Host": host},
        )
    assert response.status_code == 400
    assert "host" in response.json()["error"]
    assert client.get("/api/project", headers={"Host": "localhost:8765"}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "null"])
def test_another_origin_is_refused_and_nothing_is_written(client, project, origin):
    current = version(client)
    with unchanged(project):
        response = client.patch(
            "/api/project",
            json={"version": current, "ops": [merge(["fps"], 8)]},
            headers={"Origin": origin},
        )
        assert response.status_code == 403
        assert (
            client.post("/api/jobs/render", json={}, headers={"Origin": origin}).status_code == 403
        )
    assert not client.get("/api/jobs").json()
    same_origin = client.get("/api/project", headers={"Origin": BASE})
    assert same_origin.status_code == 200


def test_files_outside_the_output_folder_are_never_served(client, project, tmp_path):
    output = project.parent / "renders" / "demo"
    (output / "clips").mkdir(parents=True)
    (output / "clips" / "000-00-abc.mp4").write_bytes(b"not really a clip")
    (output / ".gendisco.lock").write_text("{}")
    secret = tmp_path.parent / "secret.txt"
    secret.write_text("secret")
    (output / "escape.txt").symlink_to(secret)
    assert client.get("/media/output/clips/000-00-abc.mp4").content == b"not really a clip"
    for path in [
        "/media/output/../demo.yaml",
        "/media/output/%2e%2e/demo.yaml",
        "/media/output/clips/..%2f..%2f..%2fdemo.yaml",
        "/media/output/%2fetc%2fpasswd",
        "/media/output//etc/passwd",
        "/media/output/escape.txt",
        "/media/output/.gendisco.lock",
        "/media/output/clips",
        "/api/thumbs/..%2f..%2f..%2fdemo.yaml",
        "/static/../demo.yaml",
        "/static/%2e%2e/%2e%2e/%2e%2e/errors.py",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"secret" not in response.content and b"song:" not in response.content


def test_song_and_output_cannot_be_changed_from_the_studio(client, project):
    with unchanged(project):
        for op in (
            merge(["song"], "/etc/passwd"),
            merge([], {"output": "/tmp/elsewhere"}),
            {"op": "remove", "path": ["output"]},
        ):
            response = edit(client, op)
            assert response.status_code == 400
            assert "set in the project file itself" in response.json()["error"]


# -- editing the project file ---------------------------------------------------------


def test_an_edit_changes_one_line_and_keeps_every_comment(client, project):
    before = project.read_text()
    response = edit(client, merge(["intervals", 0, "to"], {"prompt": "a city at night"}))
    assert response.status_code == 200
    after = project.read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [
        (
            '    to: {prompt: "a city skyline at dusk, teal"}   # keeps seed 7: '
            "same city, new colors",
            # the comment stays where it was, in its column
            '    to: {prompt: "a city at night"}'
            + " " * 16
            + "# keeps seed 7: same city, new colors",
        )
    ]
    assert response.json()["version"] != version_of_text(before)
    assert response.json()["project"]["intervals"][0]["to"]["prompt"] == "a city at night"


def version_of_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_times_keep_their_notation_and_kinds_switch(client, project):
    response = edit(
        client,
        merge(["intervals", 1], {"start": 8.5}),
        merge(["intervals", 0], {"end": 8.5}),
        merge(
            ["intervals", 2],
            {"transition": None, "to": None, "warp": None, "hold": {"prompt": "a neon sign"}},
        ),
    )
    assert response.status_code == 200, response.json()
    text = project.read_text()
    assert '  - start: "0:08.5"       # the section change' in text
    assert "    end: 8.5\n" in text
    assert '    hold: {prompt: "a neon sign"}' in text
    third = yaml.safe_load(text)["intervals"][2]
    assert set(third) == {"start", "end", "hold"}


def test_a_prompt_too_long_for_the_model_is_named_as_it_is_typed(client, project):
    long = ", ".join(["a mirror ball over the sea at night"] * 11)  # 11 x 8 + 10 = 98
    response = edit(client, merge(["intervals", 0], {"from": {"prompt": long}}))
    assert response.status_code == 200, response.json()
    cut = [w for w in client.get("/api/project").json()["warnings"] if "tokens" in w]
    assert len(cut) == 1 and cut[0].startswith("intervals.0 start prompt: at least ")


def test_insert_and_remove_an_interval(client, project):
    assert edit(client, merge(["intervals", 1], {"end": 11.0})).status_code == 200
    assert client.get("/api/project").json()["warnings"] == [
        "intervals.2: gap of 1 s after intervals.1 (0:11.0-0:12.0); intervals.1's last frame "
        "is held until then"
    ]
    assert edit(client, merge(["intervals", 2], {"end": 14.0})).status_code == 200
    new = {"start": 14.0, "end": 16.0, "hold": {"prompt": "a mirror ball", "seed": 5}}
    response = edit(client, {"op": "insert", "path": ["intervals", 3], "value": new})
    assert response.status_code == 200, response.json()
    assert yaml.safe_load(project.read_text())["intervals"][3] == new
    response = edit(client, {"op": "remove", "path": ["intervals", 3]})
    assert response.status_code == 200
    assert len(yaml.safe_load(project.read_text())["intervals"]) == 3


def test_consecutive_edits_write_what_edits_of_a_freshly_read_file_write(project, tmp_path):
    from gendisco.studio.edits import EditOp, ProjectFile

    twin_folder = tmp_path / "twin"
    twin_folder.mkdir()
    twin = small_demo(twin_folder)
    steps = [
        [merge(["intervals", 0, "to"], {"prompt": "a city at night", "seed": 9})],
        [merge(["intervals", 2], {"end": 14.0})],
        [
            {
                "op": "insert",
                "path": ["intervals", 3],
                "value": {"start": 14, "end": 16, "hold": {"prompt": "a mirror ball"}},
            }
        ],
        [merge(["intervals", 1], {"start": 8.25}), merge(["intervals", 0], {"end": 8.25})],
        [merge(["intervals", 1, "hold"], {"pulse": 2.0})],  # refused: the tree is not kept
        [merge(["intervals", 3], {"hold": None, "transition": "style", "to": {"prompt": "ink"}})],
        [{"op": "remove", "path": ["intervals", 2]}],
        [merge([], {"style": "watercolor", "seed": 7})],
    ]
    kept = ProjectFile(project)  # one object: each edit starts from the tree it saved
    for ops in steps:
        ops = [EditOp(**op) for op in ops]
        outcomes = []
        for file in (kept, ProjectFile(twin)):  # a new object: parses the file again
            try:
                file.edit(ops, file.read().version)
                outcomes.append("saved")
            except InvalidEdit as error:
                outcomes.append(error.problems)
        assert outcomes[0] == outcomes[1]
        assert project.read_text() == twin.read_text()
    text = project.read_text()
    assert 'style: "watercolor"' in text and "# appended to every prompt" in text
    assert [i["start"] for i in yaml.safe_load(text)["intervals"]] == [0.0, "0:08.25", 14]


def test_an_invalid_edit_answers_the_validator_lines_and_writes_nothing(client, project):
    with unchanged(project):
        response = edit(
            client,
            merge(["intervals", 1, "hold"], {"pulse": 1.5}),
            merge(["intervals", 0], {"transition": "colour"}),
        )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        "intervals.0.transition: must be one of color, time, subject, style (got 'colour'); "
        "did you mean 'color'?",
        "intervals.1.hold.pulse: must be at most 1 (got 1.5)",
    ]
    with unchanged(project):
        overlap = edit(client, merge(["intervals", 1], {"start": 7.0}))
    assert overlap.status_code == 422
    assert overlap.json()["errors"] == [
        "intervals.1.start: 7 overlaps intervals.0, which ends at 8"
    ]
    assert not list(project.parent.glob(".*partial*"))


@pytest.mark.parametrize(
    ("op", "status", "words"),
    [
        (merge(["intervals", 9, "to"], {"prompt": "x"}), 404, "intervals.9: no such interval"),
        ({"op": "remove", "path": ["intervals", 3]}, 404, "intervals.3: no such interval"),
        ({"op": "insert", "path": ["intervals", 5], "value": {}}, 404, "no such interval"),
        (merge(["intervals", 0, "nothing", "here"], 1), 404, "not in the project file"),
        ({"op": "rename", "path": []}, 422, "ops.0.op"),
        ({"op": "merge", "path": [{"a": 1}]}, 422, "ops.0.path"),
    ],
)
def test_bad_edit_requests_are_refused(client, project, op, status, words):
    with unchanged(project):
        response = edit(client, op)
    assert response.status_code == status
    assert words in response.json()["error"]


def test_a_change_on_disk_is_picked_up_not_overwritten(client, project):
    old = version(client)
    external = project.read_text().replace("fps: 4 ", "fps: 8 ")
    project.write_text(external)
    snapshot = client.get("/api/project").json()
    assert snapshot["version"] != old and snapshot["project"]["fps"] == 8
    response = edit(client, merge(["intervals", 0], {"reactivity": 0.5}), at=old)
    assert response.status_code == 409
    assert response.json()["version"] == snapshot["version"]
    assert project.read_text() == external


def test_a_broken_file_on_disk_is_reported_and_edits_wait_for_a_fix(client, project):
    project.write_text(project.read_text().replace("fps: 4 ", "fps: 0 "))
    snapshot = client.get("/api/project").json()
    assert snapshot["problems"] == ["fps: must be greater than 0 (got 0)"]
    assert snapshot["project"] is None
    assert client.get("/api/tracks").status_code == 200  # the last valid project still shows


# -- the song ---------------------------------------------------------------------------


def test_peaks_analysis_and_curves(client):
    response = client.get("/api/peaks")
    duration = float(response.headers["X-Duration"])
    rate = int(response.headers["X-Peaks-Per-Second"])
    assert abs(duration - 16.0) < 0.05
    pairs = len(response.content) // 2
    assert pairs == pytest.approx(duration * rate, abs=2)
    analysis = client.get("/api/analysis").json()
    assert analysis["tempo"] == pytest.approx(120, abs=2)
    assert 28 <= len(analysis["beats"]) <= 34 and analysis["sections"][0] == 0.0
    curve = client.get("/api/intervals/0/curve").json()
    assert curve["values"][0] == 0.0 and curve["values"] == sorted(curve["values"])
    assert client.get("/api/intervals/1/curve").json()["label"].startswith("hold")
    missing = client.get("/api/intervals/7/curve")
    assert missing.status_code == 404 and "intervals.7" in missing.json()["error"]


def test_an_unexpected_failure_is_one_line_and_the_server_goes_on(workspace, monkeypatch):
    def broken():
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(workspace, "analysis", broken)
    app = create_app(workspace, Guard(token=TOKEN, port=PORT))
    with TestClient(app, base_url=BASE, headers=AUTH, raise_server_exceptions=False) as client:
        response = client.get("/api/analysis")
        assert response.status_code == 500
        assert response.json()["errors"] == ["unexpected RuntimeError: the disk went away"]
        assert client.get("/api/project").status_code == 200


def one_hold_project(make_wav, tmp_path, name: str, seconds: float):
    """NAME.yaml: one hold over the whole of NAME.wav, a song `seconds` long."""
    make_wav(f"{name}.wav", seconds=seconds)
    project = tmp_path / f"{name}.yaml"
    project.write_text(
        f"song: {name}.wav\nmodel: tiny\nintervals:\n"
        f"  - {{start: 0, end: {seconds:g}, hold: {{prompt: a lighthouse}}}}\n"
    )
    return project


def test_closing_waits_for_the_warm_up_still_analysing(make_wav, tmp_path, monkeypatch):
    """A studio stopped while it still analyses a short song (in a thread of its own) must
    not exit under that thread: the process would abort instead of exiting with its code."""
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path / "cache"))
    ws = Workspace(one_hold_project(make_wav, tmp_path, "short", 4.0))
    analysing, release = threading.Event(), threading.Event()
    real_analyze = ws._analyze

    def slow_analyze(song):
        analysing.set()
        release.wait(10)
        return real_analyze(song)

    monkeypatch.setattr(ws, "_analyze", slow_analyze)
    ws.start()
    assert analysing.wait(10)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    assert ws.close(10)
    assert time.monotonic() - started >= 0.4  # it waited for the analysis
    assert ws._analysis is not None and abs(ws._analysis[1].duration_s - 4.0) < 0.05


def test_a_long_song_is_analysed_apart_and_closing_stops_it(make_wav, tmp_path, monkeypatch):
    from gendisco.studio import workspace as workspace_module

    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path / "cache"))
    project = one_hold_project(make_wav, tmp_path, "long", 8.0)
    monkeypatch.setattr(workspace_module, "ANALYSE_APART_S", 5.0)  # 8 s counts as long here
    ws = Workspace(project)
    try:
        analysis = ws.analysis()  # in the other process, and back
        assert abs(analysis.duration_s - 8.0) < 0.05
    finally:
        assert ws.close(10)
    make_wav("long.wav", seconds=8.5)  # another song: not in the analysis cache
    again = Workspace(project)
    outcome: list[BaseException | None] = []

    def analyse() -> None:
        try:
            again.analysis()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=analyse)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert again.close(10)
    thread.join(10)
    assert time.monotonic() - started < 5 and outcome


def test_media_answers_range_requests(client, project):
    song = (project.parent / "song.ogg").read_bytes()
    whole = client.get("/media/song")
    assert whole.status_code == 200 and whole.content == song
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/media/song", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(song)}"
    assert part.content == song[100:200]


# -- brainstorm -------------------------------------------------------------------------


def test_brainstorm_offline_and_through_an_llm(client, monkeypatch):
    from llm_server import LLMServer, chat, error

    ideas = client.post("/api/brainstorm", json={"text": "late summer pop", "seed": 3}).json()
    assert ideas["source"].startswith("the offline vocabulary") and len(ideas["ideas"]) == 6
    ends = client.post(
        "/api/brainstorm", json={"mode": "transitions", "text": "a city at dusk", "offline": True}
    ).json()
    assert [i["transition"] for i in ends["ideas"]] == ["color", "time", "subject", "style"]
    with LLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        server.queue(chat(json.dumps({"variations": ["a neon city at dusk", "dusk over a city"]})))
        answer = client.post(
            "/api/brainstorm", json={"mode": "variations", "text": "a city at dusk", "count": 2}
        )
        assert answer.status_code == 200
        assert [i["prompt"] for i in answer.json()["ideas"]] == [
            "a neon city at dusk",
            "dusk over a city",
        ]
        server.queue(error(401, "bad key"))
        failed = client.post("/api/brainstorm", json={"text": "late summer pop"})
    assert failed.status_code == 502
    assert failed.json()["errors"] == [
        f"the server at {server.url} rejected the API key (401 Unauthorized): check OPENAI_API_KEY"
    ]
    assert client.get("/api/status").status_code == 200  # the server keeps running


# -- model jobs -------------------------------------------------------------------------


def test_explore_renders_each_seed(client):
    from PIL import Image

    job = client.post("/api/jobs/explore", json={"prompt": "a red lighthouse", "seeds": 3}).json()
    assert job["state"] in ("queued", "running")
    done = wait_job(client, job["id"])
    assert done["state"] == "done", done
    images = done["result"]["images"]
    assert [i["seed"] for i in images] == [0, 1, 2]
    pictures = []
    for image in images:
        response = client.get(image["url"])
        assert response.headers["content-type"] == "image/png"
        pictures.append(Image.open(__import__("io").BytesIO(response.content)))
    assert {p.size for p in pictures} == {(64, 64)}
    assert len({p.tobytes() for p in pictures}) == 3  # each seed its own picture
    assert client.get(f"/api/explore/{job['id']}/3.png").status_code == 404
    bad = client.post("/api/jobs/explore", json={"prompt": "x", "seeds": 99})
    assert bad.status_code == 422


def test_render_one_interval_then_an_edit_marks_it_stale(client, project):
    assert client.post("/api/jobs/render", json={"intervals": [7]}).status_code == 400
    job = client.post("/api/jobs/render", json={"intervals": [1]}).json()
    done = wait_job(client, job["id"])
    assert done["state"] == "done", done
    assert done["result"]["frames_rendered"] == 16  # 4 s at 4 frames/s
    tracks = client.get("/api/tracks").json()
    assert [t["state"] for t in tracks["intervals"]] == ["missing", "rendered", "missing"]
    clip = tracks["intervals"][1]["clip"]
    thumb = client.get(f"/api/thumbs/{clip}")
    assert thumb.headers["content-type"] == "image/jpeg" and len(thumb.content) > 200
    video = client.get(f"/media/output/clips/{clip}", headers={"Range": "bytes=0-9"})
    assert video.status_code == 206 and len(video.content) == 10
    assert not tracks["final"]["exists"]

    assert edit(client, merge(["intervals", 1, "hold"], {"pulse": 0.6})).status_code == 200
    stale = client.get("/api/tracks").json()["intervals"][1]
    assert stale["state"] == "stale" and stale["clip"] == clip


def test_cancel_stops_a_render_and_keeps_finished_clips(client, project):
    first = client.post("/api/jobs/render", json={"intervals": [1]}).json()
    second = client.post("/api/jobs/render", json={}).json()  # waits for the first
    states = {j["id"]: j["state"] for j in client.get("/api/jobs").json()}
    assert states[second["id"]] == "queued"
    assert wait_job(client, first["id"])["state"] == "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # let the second render make a few frames
        job = next(j for j in client.get("/api/jobs").json() if j["id"] == second["id"])
        if job["stage"] == "render" and job["frames_done"] > 0:
            break
        time.sleep(0.05)
    cancelled = client.post(f"/api/jobs/{second['id']}/cancel").json()
    assert wait_job(client, cancelled["id"])["state"] == "cancelled"
    clips = project.parent / "renders" / "demo" / "clips"
    assert [p.name for p in clips.glob("001-*.mp4")]  # interval 1's finished clip stays
    assert not [p for p in clips.iterdir() if p.name.startswith(".")]  # no partial files
    assert client.post("/api/jobs/999/cancel").status_code == 404


def test_a_model_that_cannot_load_fails_the_job_in_one_line(project, tmp_path):
    workspace = Workspace(project, model=str(tmp_path / "missing.safetensors"))
    try:
        app = create_app(workspace, Guard(token=TOKEN, port=PORT))
        with TestClient(app, base_url=BASE, headers=AUTH) as client:
            job = client.post("/api/jobs/explore", json={"prompt": "a lighthouse"}).json()
            failed = wait_job(client, job["id"])
            assert failed["state"] == "failed"
            assert (
                failed["error"] == f"model path {tmp_path / 'missing.safetensors'} does not exist"
            )
            assert client.get("/api/status").json()["running"] is None  # still answering
    finally:
        assert workspace.close(60)


def test_another_process_holding_the_output_is_shown_and_refuses_a_render(client, project):
    output = project.parent / "renders" / "demo"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from gendisco.lock import OutputLock\n"
            f"with OutputLock(Path({str(output)!r})):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        status = client.get("/api/status").json()
        assert status["lock"].startswith(f"pid {holder.pid} on this machine")
        job = client.post("/api/jobs/render", json={"intervals": [1]}).json()
        failed = wait_job(client, job["id"])
        assert failed["state"] == "failed"
        assert "is in use by another render" in failed["error"]
        assert f"pid {holder.pid}" in failed["error"] and "\n" not in failed["error"]
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/api/status").json()["lock"] is None


# -- a real server: the event stream and the command ----------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_progress_streams_as_server_sent_events(workspace):
    import httpx
    import uvicorn

    port = _free_port()
    app = create_app(workspace, Guard(token=TOKEN, port=port))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            time.sleep(0.05)
        events: list[tuple[str, dict]] = []
        with (
            httpx.Client(base_url=base, headers=AUTH, timeout=60) as http,
            http.stream("GET", "/api/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            kind = None
            for line in lines:
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
                    if kind == "hello":
                        http.post("/api/jobs/render", json={"intervals": [1]})
                    if kind == "job" and events[-1][1]["state"] == "done":
                        break
    finally:
        workspace.hub.close()
        server.should_exit = True
        thread.join(10)
    jobs = [data for kind, data in events if kind == "job"]
    assert [j["state"] for j in jobs][:2] == ["queued", "running"]
    frames = [j["frames_done"] for j in jobs if j["stage"] == "render"]
    assert frames == sorted(frames) and frames[-1] == 16
    assert jobs[-1]["state"] == "done"


def _studio(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(cwd / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "gendisco", "studio", *args, "--no-browser"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **popen,
    )


def test_studio_on_a_song_scaffolds_a_project_then_stops_with_130(make_wav, tmp_path):
    import httpx

    song = make_wav("song.wav", seconds=6.0)
    process = _studio([str(song), "--port", "0"], tmp_path)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        assert (tmp_path / "song.yaml").is_file()
        base, token = url.split("/?token=")
        answer = httpx.get(f"{base}/api/project", headers={"X-Gendisco-Token": token})
        assert answer.json()["project"]["song"] == "song.wav"
        assert httpx.get(f"{base}/api/project").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "wrote " in err and "Traceback" not in err


def test_studio_started_with_sigint_ignored_still_exits_130_when_stopped(tmp_path):
    """A background job of a script inherits SIGINT ignored; a stop is still a stop."""
    project = small_demo(tmp_path)

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = _studio([str(project), "--port", "0"], tmp_path, preexec_fn=ignore_sigint)
    try:
        assert process.stdout.readline().startswith("http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err


def test_studio_refuses_a_public_address_without_the_flag(tmp_path):
    project = small_demo(tmp_path)
    process = _studio([str(project), "--host", "0.0.0.0"], tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == ""
    assert err.startswith("error: --host 0.0.0.0 would let other machines reach the studio")
    missing = _studio([str(tmp_path / "nothing.yaml")], tmp_path)
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2 and "project file not found" in err


def test_the_listening_socket_lets_asyncio_turn_nagle_off():
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket's
    proto is TCP; without it every response waited ~40 ms for the client's delayed ACK."""
    from gendisco.studio.server import bind

    bound = bind("127.0.0.1", 0)
    try:
        assert bound.sock.proto == socket.IPPROTO_TCP
    finally:
        bound.sock.close()


def test_the_studio_loads_the_model_with_the_projects_speed_settings():
    """A clip the studio makes must be the clip `gendisco render` makes: the project's
    `speed:` block (feature reuse changes pixels) reaches the model, and a change of it
    loads the model again."""
    from gendisco.speed import SpeedSettings

    cache = PipelineCache("cpu")
    plain = cache.get("tiny", vae="default", scheduler="euler")
    assert cache.get("tiny", vae="default", scheduler="euler") is plain
    reuse = SpeedSettings(feature_reuse=2)
    reusing = cache.get("tiny", vae="default", scheduler="euler", speed=reuse)
    assert reusing is not plain
    assert reusing.gendisco_info["speed"] == {"feature_reuse": 2}

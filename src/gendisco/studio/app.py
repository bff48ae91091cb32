"""The studio's HTTP API: thin routes, each calling the library through the Workspace.

Every route sits behind `GuardMiddleware` (token, Host, Origin). Errors come back as
`{"error": "one line", "errors": [...]}` with a 4xx status for the user's mistakes
(400 bad request, 401 token, 403 origin, 404 unknown interval or file, 409 the file changed
on disk, 422 the edit does not validate) and 5xx for failures outside their control.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from gendisco.errors import GendiscoError, LLMError, ModelError, ProjectError, UserError
from gendisco.studio.edits import EditError, EditOp, InvalidEdit, Snapshot, StaleVersion
from gendisco.studio.media import PEAKS_PER_SECOND
from gendisco.studio.security import (
    TOKEN_QUERY,
    Guard,
    GuardMiddleware,
    OutsideFolder,
    cookie_name,
    safe_file,
)
from gendisco.studio.workspace import Workspace

STATIC = resources.files("gendisco.studio") / "static"
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and browsers from timing out
NO_CACHE = {"Cache-Control": "no-cache"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EditRequest(_Body):
    version: str = Field(..., description="The version of the file the edit was made on.")
    ops: list[EditOp] = Field(..., min_length=1, max_length=200)


class RenderRequest(_Body):
    intervals: list[int] | None = Field(None, description="0-based indices; none = all.")


class ExploreRequest(_Body):
    prompt: str = Field(..., min_length=1, max_length=2000)
    seeds: int = Field(8, ge=1, le=32)
    first_seed: int = Field(0, ge=0, le=2**32 - 1)


class BrainstormRequest(_Body):
    mode: Literal["prompts", "transitions", "variations"] = "prompts"
    text: str = Field(..., min_length=1, max_length=2000)
    goal: str = Field("", max_length=2000)
    count: int | None = Field(None, ge=1, le=50)
    seed: int | None = Field(None, ge=0)
    offline: bool = False


def _error(status: int, lines: list[str]) -> JSONResponse:
    return JSONResponse({"error": " ".join(lines), "errors": lines}, status_code=status)


def _status_of(error: GendiscoError) -> int:
    if isinstance(error, EditError):
        return error.status
    if isinstance(error, ProjectError):
        return 422
    if isinstance(error, UserError):
        return 400
    if isinstance(error, (LLMError, ModelError)):
        return 502
    return 500


def snapshot_json(snapshot: Snapshot, workspace: Workspace) -> dict[str, Any]:
    """The project for the page: as validated (defaults filled in), with every interval's
    resolved prompts and seeds (what `from` omitted continues from)."""
    from gendisco.project import resolve_intervals, unused_settings
    from gendisco.prompt_length import certainly_cut, project_places

    project = snapshot.project
    data: dict[str, Any] = {
        "version": snapshot.version,
        "file": workspace.file.path.name,
        "problems": snapshot.problems,
        "project": None,
        "resolved": [],
        "warnings": [],
    }
    if project is not None:
        dumped = project.model_dump(mode="json", by_alias=True)
        dumped["song"] = project.song.name
        dumped["output"] = project.output.name
        data["project"] = dumped
        resolved = resolve_intervals(project)
        data["resolved"] = [
            {
                "index": item.index,
                "kind": item.kind,
                "from_prompt": item.from_prompt,
                "from_seed": item.from_seed,
                "to_prompt": item.to_prompt,
                "to_seed": item.to_seed,
                "continues": item.continues,
            }
            for item in resolved
        ]
        data["warnings"] = [
            *project.warnings,
            *unused_settings(project),
            *certainly_cut(project_places(project, resolved)),
        ]
    return data


def create_app(workspace: Workspace, guard: Guard) -> FastAPI:
    """The studio's ASGI app for one workspace, behind `guard`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workspace.hub.bind(asyncio.get_running_loop())
        yield

    app = FastAPI(
        title="gendisco studio", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(GuardMiddleware, guard=guard)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(GendiscoError)
    async def library_error(request: Request, error: GendiscoError) -> JSONResponse:
        if isinstance(error, InvalidEdit):
            return _error(422, error.problems)
        response = _error(_status_of(error), error.lines())
        if isinstance(error, StaleVersion):
            response = JSONResponse(
                {"error": str(error), "errors": [str(error)], "version": error.current},
                status_code=409,
            )
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # one line for the page, as the CLI gives; the server keeps serving
        return _error(500, [f"unexpected {type(error).__name__}: {error}"])

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        lines = [
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        ]
        return _error(422, lines)

    # -- the page --------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        token = request.query_params.get(TOKEN_QUERY)
        if token:  # checked by the guard already: keep it for media and the event stream
            response.set_cookie(
                cookie_name(guard.port), token, httponly=True, samesite="strict", path="/"
            )
        return response

    # -- the project file ------------------------------------------------------------

    @app.get("/api/project")
    def get_project() -> dict[str, Any]:
        return snapshot_json(workspace.snapshot(), workspace)

    @app.patch("/api/project")
    def edit_project(body: EditRequest) -> dict[str, Any]:
        return snapshot_json(workspace.edit(body.ops, body.version), workspace)

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return workspace.status()

    # -- the song --------------------------------------------------------------------

    @app.get("/api/peaks")
    def peaks() -> Response:
        data, duration = workspace.peaks()
        return Response(
            data,
            media_type="application/octet-stream",
            headers={
                "X-Peaks-Per-Second": str(PEAKS_PER_SECOND),
                "X-Duration": f"{duration:.6f}",
                "Cache-Control": "no-cache",
            },
        )

    @app.get("/api/analysis")
    def analysis() -> dict[str, Any]:
        from gendisco.studio.timeline import analysis_summary

        return analysis_summary(workspace.analysis())

    @app.get("/api/intervals/{index}/curve")
    def curve(index: int) -> dict[str, Any]:
        from gendisco.studio.timeline import warp_curve

        project = workspace.project
        if not 0 <= index < len(project.intervals):
            raise EditError(
                f"intervals.{index}: no such interval; the project has "
                f"{len(project.intervals)} (numbered 0 to {len(project.intervals) - 1})",
                status=404,
            )
        return warp_curve(project, workspace.analysis(), index)

    # -- tracks and media ------------------------------------------------------------

    @app.get("/api/tracks")
    def tracks() -> dict[str, Any]:
        from gendisco.studio.timeline import tracks as tracks_of

        return tracks_of(workspace.project, workspace.analysis(), model=workspace.model)

    @app.get("/api/thumbs/{name}")
    def thumbnail(name: str) -> Response:
        clip = _output_file(f"clips/{name}")
        return Response(workspace.thumbnails.get(clip), media_type="image/jpeg", headers=NO_CACHE)

    @app.get("/media/song")
    def song() -> FileResponse:
        path = workspace.project.song
        if not path.is_file():
            raise UserError(f"song not found: {path.name}")
        return FileResponse(path, headers=NO_CACHE)

    @app.get("/media/output/{relative:path}")
    def output_file(relative: str) -> FileResponse:
        return FileResponse(_output_file(relative), headers=NO_CACHE)

    def _output_file(relative: str) -> Path:
        try:
            return safe_file(workspace.project.output, relative)
        except OutsideFolder:
            raise EditError(f"{relative}: no such file in the output folder", 404) from None

    # -- model jobs ------------------------------------------------------------------

    @app.get("/api/jobs")
    def jobs() -> list[dict[str, Any]]:
        return [job.public() for job in workspace.jobs.list()]

    @app.post("/api/jobs/render", status_code=202)
    def render(body: RenderRequest) -> dict[str, Any]:
        return workspace.submit_render(body.intervals).public()

    @app.post("/api/jobs/explore", status_code=202)
    def explore(body: ExploreRequest) -> dict[str, Any]:
        return workspace.submit_explore(body.prompt, body.seeds, body.first_seed).public()

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        job = workspace.jobs.get(job_id)
        if job is None:
            raise EditError(f"job {job_id}: no such job", 404)
        return workspace.jobs.cancel(job).public()

    @app.get("/api/explore/{job_id}/{index}.png")
    def explored(job_id: str, index: int) -> Response:
        data = workspace.explored.get(job_id, index)
        if data is None:
            raise EditError(f"image {index} of job {job_id}: not found (too old?)", 404)
        return Response(data, media_type="image/png")

    # -- brainstorm ------------------------------------------------------------------

    @app.post("/api/brainstorm")
    def brainstorm(body: BrainstormRequest) -> dict[str, Any]:
        from gendisco import brainstorm as bs

        llm = None if body.offline else bs.connect()
        if body.mode == "transitions":
            ideas = bs.brainstorm_transitions(body.text, llm=llm, goal=body.goal, seed=body.seed)
        elif body.mode == "variations":
            ideas = bs.brainstorm_variations(
                body.text, llm=llm, count=body.count or 4, goal=body.goal, seed=body.seed
            )
        else:
            ideas = bs.brainstorm_prompts(body.text, llm=llm, count=body.count or 6, seed=body.seed)
        return {
            "kind": ideas.kind,
            "query": ideas.query,
            "source": ideas.source,
            "notes": ideas.notes,
            "ideas": [
                {"prompt": i.prompt, "subject": i.subject, "transition": i.transition}
                for i in ideas.ideas
            ],
        }

    # -- the event stream ------------------------------------------------------------

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        subscriber = workspace.hub.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                yield _sse("hello", {"version": workspace.file.read().version})
                while True:
                    try:
                        event = await asyncio.wait_for(subscriber.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            break
                        yield ": keepalive\n\n"
                        continue
                    if event is None:  # the server is stopping
                        break
                    yield _sse(*event)
            finally:
                workspace.hub.unsubscribe(subscriber)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


def _sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"

"""Jobs: submit (JSON, or multipart with the input file), list, status, cancel, resume and
the files a job made."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from faceveil.errors import InputError
from faceveil.server import retention
from faceveil.server.dataset_ops import MAX_ID
from faceveil.server.errors import ApiError, scrub_json
from faceveil.server.models_db import JOB_STATUSES
from faceveil.server.store import Store, get_store

router = APIRouter(tags=["jobs"])
StoreDep = Annotated[Store, Depends(get_store)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]  # ids fit a 32-bit INTEGER column
UPLOAD_KINDS = {"anonymize_video": ("video",)}  # job kind -> what /jobs/upload takes for it


class FileLink(BaseModel):
    name: str
    url: str


class JobOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    status: str = Field(description=" | ".join(JOB_STATUSES))
    progress: float = Field(ge=0, le=100)
    log: str = Field(description="the last lines of the job's log")
    result: dict[str, Any] | None
    error: str | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    updated_at: datetime
    files: list[FileLink]


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class JobSubmit(BaseModel):
    kind: str = Field(description="anonymize_video | anonymize_dataset | train")
    params: dict[str, Any] = Field(default_factory=dict)


def _out(store: Store, request: Request, job: dict) -> JobOut:
    base = str(request.url_for("job_file", job_id=job["id"], name="x"))[:-1]
    links = [FileLink(name=n, url=base + n) for n in store.job_files(job["id"])]
    shown = {k: scrub_json(job[k]) for k in ("error", "log", "result")}  # no server paths
    return JobOut(**{**job, **shown}, files=links)


def _job_or_404(store: Store, job_id: int) -> dict:
    job = store.job(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return job


def _submit(store: Store, kind: str, params: dict) -> int:
    try:
        job_id = store.submit_job(kind, params)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    retention.sweep_due(store)
    return job_id


@router.post("/jobs", status_code=201, response_model=JobOut)
def submit_job(body: JobSubmit, request: Request, store: StoreDep) -> JobOut:
    """Queue a job; its parameters are checked now (400), the worker runs it."""
    return _out(store, request, _job_or_404(store, _submit(store, body.kind, body.params)))


def _upload_kind(kind: str) -> tuple[str, ...]:
    """The media `kind` takes as its uploaded input; 400 for other kinds, before any upload
    is read."""
    from faceveil.server.jobs import HANDLERS

    if kind not in HANDLERS:
        known = ", ".join(sorted(HANDLERS))
        raise ApiError(400, f"unknown job kind {kind[:40]!r} (known: {known})")
    if kind not in UPLOAD_KINDS:
        takes = ", ".join(UPLOAD_KINDS)
        raise ApiError(400, f"job kind {kind!r} takes no uploaded file (these do: {takes})")
    return UPLOAD_KINDS[kind]


@router.post("/jobs/upload", status_code=201, response_model=JobOut)
def submit_job_with_file(
    request: Request,
    file: Annotated[UploadFile, File(description="the input (a video for anonymize_video)")],
    store: StoreDep,
    kind: Annotated[str, Form()] = "anonymize_video",
    params: Annotated[str, Form(description="JSON object of parameters")] = "{}",
) -> JobOut:
    """Queue a job on an uploaded file: its sha256 becomes ``params.input``. The kind, the
    parameters and the file's content are all checked before the job is queued; an upload
    refused on any of them is not kept."""
    from faceveil.server.jobs import HANDLERS
    from faceveil.server.uploads import read_media

    try:
        values = json.loads(params)
    except json.JSONDecodeError:
        raise ApiError(400, "params must be a JSON object") from None
    if not isinstance(values, dict):
        raise ApiError(400, "params must be a JSON object")
    kinds = _upload_kind(kind)
    check = HANDLERS[kind].check
    if check is not None:  # the parameters first: a refused upload is never stored
        try:
            check(values)
        except InputError as exc:
            raise ApiError(400, str(exc)) from None
    media = read_media(file, store.settings, kinds=kinds)
    new = hashlib.sha256(media.data).hexdigest() not in store.files
    values["input"] = store.files.put(media.data, "." + media.format)
    try:
        job_id = _submit(store, kind, values)  # the handler checks the stored input too
    except ApiError:
        if new:  # stored only to be checked: nothing references it
            retention.release(store, [values["input"]])
        raise
    return _out(store, request, _job_or_404(store, job_id))


@router.get("/jobs", response_model=JobList)
def list_jobs(
    request: Request,
    store: StoreDep,
    status: Annotated[str | None, Query(description=" | ".join(JOB_STATUSES))] = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> JobList:
    """Jobs, newest first."""
    if any("\x00" in (v or "") for v in (status, kind)):
        raise ApiError(400, "text must not contain NUL characters")
    jobs, total = store.list_jobs(status=status, kind=kind, limit=limit, offset=offset)
    return JobList(
        items=[_out(store, request, j) for j in jobs], total=total, limit=limit, offset=offset
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, request: Request, store: StoreDep) -> JobOut:
    """Status, progress (0-100), log tail, result and result file links."""
    return _out(store, request, _job_or_404(store, job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut)
def cancel_job(job_id: JobId, request: Request, store: StoreDep) -> JobOut:
    """Cancel: a queued job at once, a running one at its next step."""
    job = store.cancel_job(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return _out(store, request, job)


@router.post("/jobs/{job_id}/resume", response_model=JobOut)
def resume_job(job_id: JobId, request: Request, store: StoreDep) -> JobOut:
    """Queue an interrupted, failed or cancelled job again (training resumes from its
    checkpoint); 409 for a job that is queued, running or done."""
    try:
        job = store.resume_job(job_id)
    except InputError as exc:
        raise ApiError(409, str(exc)) from None
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return _out(store, request, job)


@router.get(
    "/jobs/{job_id}/files/{name:path}",
    name="job_file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def job_file(job_id: JobId, name: str, store: StoreDep) -> FileResponse:
    """A file the job made, by the name its status lists (nothing else is served)."""
    _job_or_404(store, job_id)
    path = store.job_files(job_id).get(name)
    if path is None:
        raise ApiError(404, f"job {job_id} has no file {name[:100]!r}")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, filename=path.name)

"""Synchronous API: health, detect, anonymize, verify, analyze, audit, stored result files.

Every route is a thin layer over faceveil's public functions; library work runs in the
threadpool so the event loop stays free. The generative routes live in
:mod:`faceveil.server.api.latent` and are included here.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

import faceveil
from faceveil.server import uploads
from faceveil.server.api import latent
from faceveil.server.api import schemas as s
from faceveil.server.api.body import body_doc, file_store, read_body, store_file, wants_json
from faceveil.server.errors import ApiError
from faceveil.server.limits import run_heavy

SHA = re.compile(r"^[0-9a-f]{64}$")
ERRORS = s.error_responses(
    {
        400: "bad input (corrupt image, no face, bad base64)",
        401: "missing or wrong API token",
        413: "upload too large, or an image over FACEVEIL_MAX_PIXELS",
        415: "not an image (checked by content)",
        422: "invalid options",
        503: "busy: FACEVEIL_MAX_HEAVY_REQUESTS image requests running (see Retry-After)",
    }
)
IMAGE_OUT: dict[str, Any] = {
    "content": {"image/png": {}, "image/jpeg": {}},
    "description": "the image",
}

router = APIRouter(responses=ERRORS)


def _settings(request: Request):
    return request.app.state.settings


def _image(request: Request, data: bytes):
    return uploads.read_image_with_format(data, _settings(request))


def _anonymize_options(opts: s.AnonymizeFields) -> dict:
    """Library options, checked by AnonymizeOptions itself (422 on what it refuses)."""
    options = opts.library_options()
    try:
        faceveil.AnonymizeOptions.from_kwargs(**options)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"invalid options: {exc}") from None
    return options


@router.get("/options/anonymize", response_model=s.OptionFieldsResponse, tags=["sync"])
def anonymize_option_fields() -> s.OptionFieldsResponse:
    """The anonymisation options the studio's form offers, from their one declaration: name,
    label, help, widget, default, choices, bounds and the methods each applies to."""
    from faceveil.anonymize.options import form_fields

    return s.OptionFieldsResponse.model_validate({"fields": form_fields()})


@router.get("/health", response_model=s.HealthResponse, tags=["sync"])
def health(request: Request) -> s.HealthResponse:
    """Version, available generators and methods, compute device."""
    from faceveil.gen.base import default_device
    from faceveil.gen.registry import model_dirs

    return s.HealthResponse(
        status="ok",
        version=faceveil.__version__,
        device=str(default_device()),
        generators=sorted(model_dirs()),
        methods=list(faceveil.METHODS),
        auth=bool(_settings(request).api_token),
    )


@router.post(
    "/detect",
    response_model=s.DetectResponse,
    tags=["sync"],
    openapi_extra=body_doc(s.DetectOptions, ("file",), ("file",)),
)
async def detect(request: Request) -> s.DetectResponse:
    """Find every face: boxes, five landmarks and scores."""
    body = await read_body(request, s.DetectOptions, ("file",))
    o: s.DetectOptions = body.options

    def work():
        start = time.perf_counter()
        pixels, _ = _image(request, body.file("file"))
        kwargs = faceveil.AnonymizeOptions(**o.model_dump()).detect_kwargs("image")
        faces = faceveil.detect(pixels, **kwargs)
        return s.DetectResponse(
            width=pixels.shape[1],
            height=pixels.shape[0],
            faces=[f.to_dict() for f in faces],
            seconds=round(time.perf_counter() - start, 3),
        )

    return await run_heavy(request, work)


@router.post(
    "/anonymize",
    tags=["sync"],
    response_model=s.AnonymizeResponse,
    responses={200: {**IMAGE_OUT, "content": {**IMAGE_OUT["content"], "application/json": {}}}},
    openapi_extra=body_doc(s.AnonymizeRequest, ("file",), ("file",)),
)
async def anonymize(
    request: Request,
    format: str | None = Query(  # noqa: A002  (the query parameter's public name)
        None, pattern="^(image|json)$", description="json for JSON; default image or Accept"
    ),
):
    """Anonymise every face. Answers with the image (PNG, or JPEG for a JPEG input; no
    metadata kept) unless JSON is asked for (``?format=json`` or ``Accept: application/json``),
    which gives the report and a link to the stored result."""
    body = await read_body(request, s.AnonymizeRequest, ("file",))
    o: s.AnonymizeRequest = body.options
    options = _anonymize_options(o)
    as_json = wants_json(request, format)
    stop = threading.Event()

    def work():
        from faceveil.io.images import encode_image

        pixels, kind = _image(request, body.file("file"))
        out, report = faceveil.anonymize(pixels, should_stop=stop.is_set, **options)
        suffix = ".jpg" if kind == "jpeg" else ".png"
        data = encode_image(out, suffix)  # no exif/icc: metadata is stripped
        if not as_json:
            return Response(data, media_type="image/jpeg" if suffix == ".jpg" else "image/png")
        summary = None
        if o.audit:
            from faceveil.audit import AuditReport, audit_pair

            recognizers = tuple(o.recognizers.split(","))
            item = audit_pair(
                pixels,
                out,
                faces=report.faces,
                mask_scale=o.mask_scale,
                recognizers=recognizers,
            )
            summary = AuditReport(items=[item], recognizers=recognizers).summary()
        return s.AnonymizeResponse(
            result=store_file(request, data, suffix),
            width=pixels.shape[1],
            height=pixels.shape[0],
            report=report.to_dict(),
            audit=summary,
        )

    return await run_heavy(request, work, stop)


@router.post(
    "/verify",
    response_model=s.VerifyResponse,
    tags=["sync"],
    openapi_extra=body_doc(s.VerifyOptions, ("file_a", "file_b"), ("file_a", "file_b")),
)
async def verify(request: Request) -> s.VerifyResponse:
    """Do two images show the same person? (SFace cosine similarity of their faces.)"""
    body = await read_body(request, s.VerifyOptions, ("file_a", "file_b"))
    o: s.VerifyOptions = body.options

    def work():
        a, _ = _image(request, body.file("file_a"))
        b, _ = _image(request, body.file("file_b"))
        result = faceveil.verify(
            a,
            b,
            all_pairs=o.all_pairs,
            threshold=o.threshold,
            detect_threshold=o.detect_threshold,
        )
        return s.VerifyResponse(**result.to_dict())

    return await run_heavy(request, work)


@router.post(
    "/analyze",
    response_model=s.AnalyzeResponse,
    tags=["sync"],
    openapi_extra=body_doc(s.AnalyzeOptions, ("file",), ("file",)),
)
async def analyze(request: Request) -> s.AnalyzeResponse:
    """Age, gender and emotion of every face (and the face mesh with ``mesh=true``)."""
    body = await read_body(request, s.AnalyzeOptions, ("file",))
    o: s.AnalyzeOptions = body.options

    def work():
        start = time.perf_counter()
        pixels, _ = _image(request, body.file("file"))
        try:
            faces = faceveil.analyze(pixels, threshold=o.threshold, mesh=o.mesh)
        except ValueError as exc:  # e.g. a degenerate (zero-size) detection on a tiny image
            raise ApiError(400, f"cannot analyse the faces of this image: {exc}") from None
        return s.AnalyzeResponse(
            faces=[f.to_dict() for f in faces], seconds=round(time.perf_counter() - start, 3)
        )

    return await run_heavy(request, work)


@router.post(
    "/audit",
    response_model=s.AuditResponse,
    tags=["sync"],
    openapi_extra=body_doc(s.AuditRequest, ("file_a", "file_b"), ("file_a",)),
)
async def audit(request: Request) -> s.AuditResponse:
    """What an anonymised image still gives away: re-identification, detectability,
    background SSIM, attribute agreement. Without `file_b` the original is anonymised first
    with `method` and the other options, and the result is linked."""
    body = await read_body(request, s.AuditRequest, ("file_a", "file_b"))
    o: s.AuditRequest = body.options
    options = _anonymize_options(o)
    stop = threading.Event()

    def work():
        from faceveil.audit import AuditReport, audit_pair
        from faceveil.io.images import encode_image

        start = time.perf_counter()
        recognizers = tuple(o.recognizers.split(","))
        original, kind = _image(request, body.file("file_a"))
        link, faces = None, None
        if body.file("file_b", required=False) is not None:
            anonymized, _ = _image(request, body.file("file_b"))
        else:
            anonymized, report = faceveil.anonymize(original, should_stop=stop.is_set, **options)
            faces = report.faces
            suffix = ".jpg" if kind == "jpeg" else ".png"
            link = store_file(request, encode_image(anonymized, suffix), suffix)
        item = audit_pair(
            original,
            anonymized,
            faces=faces,
            threshold=o.reid_threshold,
            attributes=o.attributes,
            mask_scale=o.mask_scale,
            names=("file_a", "file_b" if link is None else "anonymized"),
            recognizers=recognizers,
        )
        d = item.to_dict()
        report = AuditReport(items=[item], threshold=o.reid_threshold, recognizers=recognizers)
        return s.AuditResponse(
            summary=report.summary(),
            ssim_outside=d["ssim_outside"],
            psnr_outside=d["psnr_outside"],
            background_identical=d["background_identical"],
            faces=d["faces"],
            anonymized=link,
            seconds=round(time.perf_counter() - start, 3),
        )

    return await run_heavy(request, work, stop)


@router.get(
    "/files/{sha}",
    tags=["sync"],
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the file"},
        **s.error_responses({404: "no such file"}),
    },
)
def get_file(sha: str, request: Request):
    """A stored result (anonymised image, generated face, ...), by the sha256 of its bytes."""
    if not SHA.fullmatch(sha):
        raise ApiError(404, "no such file")
    try:
        path = file_store(request).path(sha)
    except KeyError:
        path = None
    if path is None or not path.is_file():
        raise ApiError(404, "no such file")
    with open(path, "rb") as fh:
        head = fh.read(64)
    from faceveil.server.api.body import media_type

    return FileResponse(
        path,
        media_type=media_type(head + b"\0" * 64),
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",  # served as what the bytes are, nothing else
        },
    )


router.include_router(latent.router)

"""``POST /restore``: find what covers each face and fill it (faceveil.restore), with the four
steps stored and linked. The filled regions are a plausible guess, not the person's face."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from faceveil.errors import InputError
from faceveil.server import uploads
from faceveil.server.api import schemas as s
from faceveil.server.api.body import body_doc, read_body, store_file, wants_json
from faceveil.server.api.latent import model_ref, one_thread
from faceveil.server.errors import ApiError
from faceveil.server.limits import run_heavy

router = APIRouter(tags=["restore"])


@router.post(
    "/restore",
    response_model=s.RestoreResponse,
    responses={200: {"content": {"image/png": {}, "application/json": {}}, "description": ""}},
    openapi_extra=body_doc(s.RestoreRequest, ("file",), ("file",)),
)
async def restore(
    request: Request,
    format: str | None = Query(  # noqa: A002  (the query parameter's public name)
        None, pattern="^(image|json)$", description="json for JSON; default image or Accept"
    ),
):
    """Fill what covers each face (mask, scarf, sunglasses, hand) with a generated face that
    fits the visible part; only covered pixels change. Answers with the PNG, or JSON with the
    report and links to the four steps (generated face, smoothed face, covering mask, result).
    """
    body = await read_body(request, s.RestoreRequest, ("file",))
    o: s.RestoreRequest = body.options
    as_json = wants_json(request, format)

    def work():
        import faceveil
        from faceveil.io.images import encode_image

        model = o.model if o.model == "auto" else model_ref(request, o.model)
        pixels, _ = uploads.read_image_with_format(body.file("file"), request.app.state.settings)
        try:
            with one_thread():
                done = faceveil.restore(pixels, model=model, smooth_k=o.smooth_k, seed=o.seed)
        except (InputError, ValueError) as exc:
            raise ApiError(400, f"cannot restore this image: {str(exc).splitlines()[0]}") from None
        data = encode_image(done.image, ".png")
        if not as_json:
            return Response(data, media_type="image/png")
        steps = {
            name: store_file(
                request, data if name == "result" else encode_image(image, ".png"), ".png"
            )
            for name, image in done.steps.items()
            if image is not None
        }
        return s.RestoreResponse(
            note=done.report["note"],
            result=steps["result"],
            steps=steps,
            faces=done.report["faces"],
            filled=done.report["filled"],
            width=pixels.shape[1],
            height=pixels.shape[0],
            seconds=done.report["seconds"],
        )

    return await run_heavy(request, work)

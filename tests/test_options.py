"""One declaration per option: every surface offers exactly what the declarations allow, and a
value set on any surface reaches the library (the cloak's budget through jobs and batch)."""

from __future__ import annotations

import json
import re

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import faceveil.cli.batch as cli_batch
from faceveil.anonymize.options import (
    AnonymizeOptions,
    declared,
    fields_for,
    form_fields,
    names_for,
    options_from,
    parse_color,
)
from faceveil.cli import app
from faceveil.errors import InputError
from faceveil.server.api import schemas
from faceveil.server.app import create_app
from faceveil.server.jobs.handlers import _options as job_options
from faceveil.server.settings import Settings


def _cli_params(command: str) -> set[str]:
    click_app = typer.main.get_command(app)
    return {p.name for p in click_app.commands[command].params}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("command", "surface"), [("anonymize", "cli"), ("batch", "batch")])
def test_cli_commands_offer_every_declared_option(command, surface):
    params = _cli_params(command)
    missing = set(names_for(surface)) - params
    assert not missing, f"faceveil {command} lacks {missing}"


def test_api_request_models_are_the_declared_options():
    api = set(names_for("api"))
    assert set(schemas.AnonymizeFields.model_fields) == api
    for model in (schemas.AnonymizeRequest, schemas.AuditRequest):
        assert api <= set(model.model_fields)
    # no server path on any server surface
    for surface in ("api", "job", "form"):
        assert not {"replace_image", "gallery"} & set(names_for(surface))


def test_every_option_is_somewhere_and_declared_once():
    names = [f.name for f, _ in declared()]
    assert len(names) == len(set(names))
    for f, spec in declared():
        assert spec.surfaces, f"{f.name} is on no surface"
        assert spec.help.strip()
        if spec.choice_labels:
            assert len(spec.choice_labels) == len(spec.choice_list() or ())


def test_job_keys_are_the_declared_ones():
    defaults = {f.name: f.default for f, _ in fields_for("job")}
    assert options_from("job", defaults) == AnonymizeOptions()
    with pytest.raises(InputError, match="forbidden option.*gallery"):
        options_from("job", {"gallery": "/etc"})


def test_studio_video_job_takes_the_cloak_budget_and_target():
    """Bug: the page sent budget and target, the job's keys lacked them: 400."""
    opts = job_options({"method": "cloak", "options": {"budget": "max", "target": "away"}})
    assert (opts.method, opts.budget, opts.target) == ("cloak", "max", "away")


def test_batch_cli_passes_the_cloak_budget(tmp_path, monkeypatch):
    """Bug: ``faceveil batch --method cloak --budget max`` silently ran at the default budget."""
    seen = {}

    def fake_run_batch(source, output, options, **kwargs):
        seen["options"] = options
        raise InputError("stop here")

    monkeypatch.setattr("faceveil.batch.run_batch", fake_run_batch)
    assert cli_batch  # the command is registered
    result = CliRunner().invoke(
        app,
        ["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--method", "cloak",
         "--budget", "max", "--target", "away", "--feather", "0.2"],
    )  # fmt: skip
    assert result.exit_code == 1 and "stop here" in result.output
    opts = seen["options"]
    assert (opts.method, opts.budget, opts.target, opts.feather) == ("cloak", "max", "away", 0.2)


def test_cli_rejects_a_bad_value_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["anonymize", str(tmp_path), "--budget", "huge"])
    assert result.exit_code == 2
    assert "unknown budget 'huge'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["anonymize", str(tmp_path), "--gallery", "/no/such"])
    assert result.exit_code == 2 and "--gallery /no/such: no such folder" in result.output


def test_studio_form_is_rendered_from_the_declarations(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    page = client.get("/").text
    names = set(re.findall(r'name="([a-z_]+)"', page))
    assert set(names_for("form")) <= names
    served = client.get("/api/v1/options/anonymize").json()["fields"]
    assert [f["name"] for f in served] == list(names_for("form"))
    budget = next(f for f in served if f["name"] == "budget")
    assert budget["choices"] == ["low", "mid", "high", "max"] and budget["methods"] == ["cloak"]


def test_form_fields_carry_bounds_and_widgets():
    by_name = {f["name"]: f for f in form_fields()}
    assert by_name["k"]["ge"] == 2 and by_name["k"]["le"] == 100
    assert by_name["color"]["widget"] == "color" and by_name["color"]["default"] == [0, 0, 0]
    assert by_name["edit"]["widget"] == "text"
    assert by_name["shape"]["widget"] == "select"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"method": "smudge"}, "unknown method"),
        ({"k": 1}, "k must be at least 2"),
        ({"threshold": 0}, "threshold must be above 0"),
        ({"max_side": 10}, "max_side must be 0"),
        ({"color": "1,2"}, "color must be three values"),
        ({"blur_strength": "x"}, "blur_strength must be a number"),
        ({"method": "attributes", "edit": "age=="}, "edit"),
    ],
)
def test_bad_values_are_refused_by_the_declaration(values, message):
    with pytest.raises(ValueError, match=message):
        AnonymizeOptions(**values)


def test_colour_forms_agree():
    assert parse_color("#0a0B0c") == parse_color("10,11,12") == parse_color([10, 11, 12])
    assert AnonymizeOptions(color="#ff0000").color == (255, 0, 0)


def test_the_dask_worker_uses_the_one_file_runner(tmp_path, monkeypatch, astronaut):
    from PIL import Image

    import faceveil.batch.worker as worker

    calls = []
    real = worker.process_file
    monkeypatch.setattr(worker, "process_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    row = worker.process_one(str(tmp_path / "a.png"), str(tmp_path / "b.png"), AnonymizeOptions())
    assert row["status"] == "ok" and len(calls) == 1 and (tmp_path / "b.png").exists()


def test_form_fields_are_taken_by_both_endpoints_the_page_posts_to():
    """The page sends its fields to /anonymize (photos) and to the video job."""
    assert set(names_for("form")) <= set(names_for("api")) & set(names_for("job"))


def test_drop_audio_removes_the_audio_track(clip, tmp_path):
    """keep_audio: one declaration, one use in the video runner; every surface offers it."""
    from conftest import ffprobe_text

    for flag, has_audio in (("--drop-audio", False), ("--keep-audio", True)):
        out = tmp_path / f"{flag[2:]}.mp4"
        result = CliRunner().invoke(app, ["anonymize", str(clip), "-o", str(out), flag, "-q"])
        assert result.exit_code == 0, result.output
        assert ("Audio:" in ffprobe_text(out)) is has_audio
    assert "keep_audio" in names_for("job") and "keep_audio" in names_for("form")
    assert job_options({"options": {"keep_audio": False}}).keep_audio is False


def _upload_video(client, clip, method: str, options: dict | None = None):
    params = {"method": method, "options": options or {}}
    data = {"kind": "anonymize_video", "params": json.dumps(params)}
    files = {"file": ("c.mp4", clip.read_bytes())}
    return client.post("/api/v1/jobs/upload", files=files, data=data)


def test_a_video_upload_refused_on_its_options_is_never_stored(tmp_path, monkeypatch):
    """The job's options are checked before the uploaded file is written, not after."""
    from conftest import make_clip

    clip = make_clip(tmp_path / "c.mp4", n=4, audio=False, location=None)
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        store = client.app.state.store
        puts = []
        real_put = store.files.put
        monkeypatch.setattr(store.files, "put", lambda *a, **k: puts.append(1) or real_put(*a, **k))
        for options in ({"budget": "huge"}, {"gallery": "/"}):
            r = _upload_video(client, clip, "cloak", options)
            assert r.status_code == 400, r.text
    assert puts == []


def test_a_video_with_frames_over_the_pixel_limit_is_refused(tmp_path):
    from conftest import make_clip

    clip = make_clip(tmp_path / "c.mp4", n=4, audio=False, location=None)  # 320 x 240
    app_ = create_app(Settings(data_dir=tmp_path / "data", max_pixels=50_000))
    with TestClient(app_) as client:
        r = _upload_video(client, clip, "blur")
        assert r.status_code == 400
        assert "video frames too large: 320 x 240" in r.json()["error"]


def test_the_pages_cloak_video_upload_is_accepted(tmp_path):
    """What the Anonymize page sends for a video with cloak chosen (all its shown fields, typed
    as jobParams types them) is a valid job: the bug answered 400."""
    from conftest import make_clip

    fields = {f["name"]: f for f in form_fields()}
    shown = [
        n
        for n, f in fields.items()
        if n != "method" and (not f["methods"] or "cloak" in f["methods"])
    ]
    options = {n: fields[n]["default"] for n in shown}
    options.update(budget="high", target="away")
    assert {"budget", "target", "seed"} <= set(options)
    clip = make_clip(tmp_path / "c.mp4", n=4, audio=False, location=None)
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        r = _upload_video(client, clip, "cloak", options)
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["params"]["options"]["budget"] == "high"
        client.post(f"/api/v1/jobs/{job['id']}/cancel")

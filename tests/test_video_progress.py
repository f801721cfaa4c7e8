"""Video progress and stop: anonymize_video/anonymize_paths report frames done and stop between
frames without leaving output; a studio video job shows its progress and can be cancelled
while it runs."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import make_clip
from faceveil.anonymize import AnonymizeOptions, anonymize_paths, anonymize_video
from faceveil.anonymize.state import Cancelled
from faceveil.server.app import create_app
from faceveil.server.settings import Settings

API = "/api/v1"


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_progress_counts_every_frame(clip, tmp_path):
    calls: list[tuple[int, int]] = []
    report = anonymize_video(
        clip, tmp_path / "out.mp4", AnonymizeOptions(method="solid"), progress=False,
        on_progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    done = [d for d, _ in calls]
    assert done[:-1] == list(range(1, report.frame_count + 1))  # one call per frame, in order
    assert calls[-1] == (report.frame_count, report.frame_count) == (40, 40)
    assert all(0 < d <= t for d, t in calls)


def test_stop_mid_video_leaves_no_output(clip, tmp_path):
    out = tmp_path / "out" / "video.mp4"
    out.parent.mkdir()
    seen: list[int] = []
    with pytest.raises(Cancelled, match="stopped after 10 frame"):
        anonymize_video(
            clip, out, AnonymizeOptions(method="solid"), progress=False,
            on_progress=lambda done, total: seen.append(done),
            should_stop=lambda: len(seen) >= 10,
        )  # fmt: skip
    assert seen == list(range(1, 11))
    assert leftovers(out.parent) == []  # neither the output nor its hidden temp file

    # an existing output is left as it was
    out.write_bytes(b"previous")
    with pytest.raises(Cancelled):
        anonymize_video(clip, out, AnonymizeOptions(), progress=False, should_stop=lambda: True)
    assert out.read_bytes() == b"previous" and leftovers(out.parent) == ["video.mp4"]


def test_anonymize_paths_passes_stop_through(clip, tmp_path, astronaut):
    """A stop is not a failed file: it ends the batch (files already done are kept)."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(astronaut).save(src / "a.png")
    (src / "b.mp4").write_bytes(clip.read_bytes())
    frames: list[int] = []
    with pytest.raises(Cancelled):
        anonymize_paths(
            [src], tmp_path / "out", options=AnonymizeOptions(method="solid"), progress=False,
            on_progress=lambda done, total: frames.append(done),
            should_stop=lambda: len(frames) >= 5,
        )  # fmt: skip
    assert leftovers(tmp_path / "out") == ["a.png"]
    batch = anonymize_paths(
        [clip], tmp_path / "whole.mp4", options=AnonymizeOptions(method="solid"), progress=False,
        on_progress=lambda done, total: frames.append(done), should_stop=lambda: False,
    )  # fmt: skip
    assert not batch.failed and frames[-1] == 40


def test_studio_video_job_progresses_and_cancels_midway(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", n=200, audio=False, location=None)
    app = create_app(Settings(data_dir=tmp_path / "data", run_worker=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        upload = lambda: client.post(  # noqa: E731
            f"{API}/jobs/upload",
            files={"file": ("long.mp4", clip.read_bytes(), "video/mp4")},
            data={"kind": "anonymize_video", "params": json.dumps({"method": "solid"})},
        )
        # a job left to run: its progress goes up step by step
        job_id = upload().json()["id"]
        seen = []
        while (job := client.get(f"{API}/jobs/{job_id}").json())["status"] in ("queued", "running"):
            seen.append(job["progress"])
            time.sleep(0.02)
        assert job["status"] == "done", job["error"]
        steps = sorted(set(seen) - {0, 1})
        assert seen == sorted(seen) and len(steps) >= 5 and max(steps) < 100, seen

        # a job cancelled while it runs ends cancelled, without output
        job_id = upload().json()["id"]
        while (job := client.get(f"{API}/jobs/{job_id}").json())["progress"] <= 1:
            assert job["status"] in ("queued", "running"), job
            time.sleep(0.01)
        cancel = client.delete(f"{API}/jobs/{job_id}").json()
        assert cancel["status"] == "running" and cancel["cancel_requested"]
        end = time.monotonic() + 60
        while (job := client.get(f"{API}/jobs/{job_id}").json())["status"] == "running":
            assert time.monotonic() < end
            time.sleep(0.02)
        assert job["status"] == "cancelled", job
        assert 1 < job["progress"] < 50, job  # it stopped early, not at the end
        assert leftovers(app.state.store.job_dir(job_id)) == []

"""Partial outputs: a SIGTERM'd run removes its temp file, a killed run's temp file is swept
at the next run (never a live run's, never another file), folder runs never take temp files
as inputs, and write errors name the user's target in plain words (a full disk included)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import faceveil_cmd, make_clip
from faceveil.anonymize import anonymize_paths
from faceveil.errors import InputError, OutputError
from faceveil.io.atomic import TEMP_MARK, atomic_output, sweep_stale_temp, temp_prefix
from faceveil.io.images import write_image
from faceveil.io.video import VideoInfo, VideoWriter, probe_video
from faceveil.testing import make_scene

posix_only = pytest.mark.skipif(os.name != "posix", reason="signals and pids")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp_name(stem: str, ext: str, pid: int) -> str:
    """A temp file name of atomic_output's pattern, as process `pid` on this host makes it."""
    prefix = temp_prefix(Path(stem + ext)).replace(f"-{os.getpid()}-", f"-{pid}-")
    return f"{prefix}k3x9q2ab{ext}"


def _scene(path: Path) -> Path:
    img, _ = make_scene(0, size=(160, 120), n_faces=1, face_sizes=(50, 60))
    return write_image(path, img)


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMP_MARK in p.name)


# --------------------------------------------------------------------------- SIGTERM


@posix_only
@pytest.mark.slow
def test_sigterm_during_a_video_leaves_no_temp_file(tmp_path):
    src = make_clip(tmp_path / "long.mp4", n=400, size=(480, 360))
    out_dir = tmp_path / "out"
    out = out_dir / "long_anon.mp4"
    proc = subprocess.Popen(
        [*faceveil_cmd(), "anonymize", str(src), "-o", str(out), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and not _temps(tmp_path):
        time.sleep(0.02)
    assert proc.poll() is None and _temps(tmp_path), "the run ended before it was writing"
    time.sleep(0.3)  # ffmpeg is encoding into the temp file
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert stderr.strip() == "faceveil: terminated", stderr
    assert _temps(tmp_path) == [] and not out.exists()


# --------------------------------------------------------------------------- the sweep


@posix_only
def test_sweep_removes_only_dead_writers_temp_files(tmp_path):
    stale = tmp_path / _temp_name("photo", ".jpg", _dead_pid())
    live = tmp_path / _temp_name("photo", ".jpg", os.getpid())
    other_host = tmp_path / f".photo{TEMP_MARK}00000000-{_dead_pid()}-k3x9q2ab.jpg"
    unrelated = [tmp_path / ".photo.abc123.jpg", tmp_path / ".hidden", tmp_path / "photo.jpg"]
    for p in [stale, live, other_host, *unrelated]:
        p.write_bytes(b"x")
    nested = tmp_path / "sub" / _temp_name("clip", ".mp4", _dead_pid())
    nested.parent.mkdir()
    nested.write_bytes(b"x")

    assert sweep_stale_temp(tmp_path) == [stale]
    assert nested.exists()  # not recursive unless asked
    assert sweep_stale_temp(tmp_path, recursive=True) == [nested]
    assert all(p.exists() for p in [live, other_host, *unrelated])
    assert sweep_stale_temp(tmp_path / "missing") == []


@posix_only
def test_the_next_cli_run_sweeps_a_killed_runs_temp_files(tmp_path, run_cli):
    src = _scene(tmp_path / "in" / "photo.jpg")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / _temp_name("photo", ".jpg", _dead_pid())
    live = out / _temp_name("photo", ".jpg", os.getpid())  # another run, still writing
    unrelated = out / ".notes.txt"
    for p in (stale, live, unrelated):
        p.write_bytes(b"half a file")
    proc = run_cli("anonymize", src, "-o", out / "photo.jpg", "-q")
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and live.exists() and unrelated.exists()
    assert (out / "photo.jpg").is_file()


@posix_only
def test_batch_run_sweeps_its_output_folders_before_it_starts(tmp_path):
    from faceveil.batch import run_batch

    src = tmp_path / "in"
    _scene(src / "a" / "x.jpg")
    stale = tmp_path / "out" / "a" / _temp_name("x", ".jpg", _dead_pid())
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x")

    class NoCluster:  # the sweep comes before any work is sent
        def nthreads(self):
            raise RuntimeError("no cluster in this test")

    with pytest.raises(RuntimeError, match="no cluster"):
        run_batch(src, tmp_path / "out", client=NoCluster())
    assert not stale.exists()


@posix_only
def test_a_studio_job_sweeps_its_result_folder_when_it_starts(tmp_path):
    from faceveil.server import jobs
    from faceveil.server.settings import Settings
    from faceveil.server.store import open_store, start_worker

    seen: list[list[str]] = []
    jobs.register_handler("look", lambda ctx: seen.append(_temps(ctx.result_dir)) or {})
    store = open_store(Settings(data_dir=tmp_path / "data"))
    worker = None
    try:
        job_id = store.submit_job("look", {})
        result_dir = store.job_dir(job_id)
        (result_dir / "images").mkdir(parents=True)
        stale = result_dir / "images" / _temp_name("a", ".png", _dead_pid())
        live = result_dir / _temp_name("b", ".png", os.getpid())
        for p in (stale, live):
            p.write_bytes(b"x")
        worker = start_worker(store)
        end = time.monotonic() + 30
        while store.job(job_id)["status"] != "done" and time.monotonic() < end:
            time.sleep(0.02)
        assert store.job(job_id)["status"] == "done"
        assert seen == [[live.name]]  # swept before the handler ran
    finally:
        if worker is not None:
            worker.stop()
        store.close()
        jobs.HANDLERS.pop("look", None)


# --------------------------------------------------------------------------- folder runs


def test_folder_runs_never_take_temp_files_as_inputs(tmp_path):
    from faceveil.batch.engine import _plan_urls, plan_pairs

    src = tmp_path / "in"
    _scene(src / "photo.jpg")
    _scene(src / _temp_name("photo", ".jpg", os.getpid()))  # a live run's, a valid image
    batch = anonymize_paths([src], tmp_path / "out", progress=False)
    assert [Path(f.input).name for f in batch.files] == ["photo.jpg"]
    assert batch.skipped == []  # hidden: not even reported
    assert [Path(s).name for s, _ in plan_pairs(src, tmp_path / "out2")] == ["photo.jpg"]
    pairs = _plan_urls(f"file://{src}", f"file://{tmp_path / 'out3'}")
    assert [s.rsplit("/", 1)[1] for s, _ in pairs] == ["photo.jpg"]


# --------------------------------------------------------------------------- plain errors


def test_errors_inside_atomic_output_name_the_target(tmp_path):
    target = tmp_path / "result.png"
    with pytest.raises(InputError) as info, atomic_output(target) as tmp:
        raise InputError(f"{tmp}: something went wrong")
    assert str(info.value) == f"{target}: something went wrong"
    with pytest.raises(OutputError) as info, atomic_output(target) as tmp:
        raise OSError(errno.EIO, "Input/output error", str(tmp))
    assert str(info.value) == f"{target}: input/output error"
    assert _temps(tmp_path) == [] and not target.exists()


def test_a_full_disk_is_one_plain_output_error(tmp_path):
    target = tmp_path / "result.png"
    with pytest.raises(OutputError) as info, atomic_output(target):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"{target}: no space left on device"
    assert info.value.errno == errno.ENOSPC
    assert _temps(tmp_path) == [] and not target.exists()


def test_a_full_disk_in_the_cli_is_one_line_exit_1(tmp_path):
    src = _scene(tmp_path / "photo.png")
    report = tmp_path / "report.json"
    # Writes of faceveil's temp files fail as on a full disk; everything else works.
    code = (
        "import errno, pathlib, sys\n"
        "def full(self, *a, **k):\n"
        f"    if {TEMP_MARK!r} in self.name:\n"
        "        raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "    return orig(self, *a, **k)\n"
        "orig = pathlib.Path.write_text\n"
        "pathlib.Path.write_text = full\n"
        "from faceveil.cli import main\n"
        f"sys.argv = ['faceveil', 'anonymize', {str(src)!r}, '-q', '--json', {str(report)!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"faceveil: error: {report}: no space left on device"
    assert _temps(tmp_path) == [] and not report.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_ffmpeg_on_a_full_disk_says_so_in_one_line(tmp_path, capfd):
    info = VideoInfo(64, 48, 25, 1.0, "h264", None)
    frames = np.zeros((48, 64, 3), np.uint8)
    target = tmp_path / "out.mp4"
    with pytest.raises(OutputError) as err, atomic_output(target) as tmp:
        tmp.unlink()
        tmp.symlink_to("/dev/full")  # every write: ENOSPC
        with VideoWriter(tmp, info, source=None) as writer:
            for _ in range(200):
                writer.write(frames)
    assert str(err.value) == f"{target}: no space left on device"
    assert capfd.readouterr().err == ""  # ffmpeg's own log stays out of the terminal
    assert _temps(tmp_path) == [] and not target.exists()


def test_unreadable_videos_are_named_in_plain_words(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    audio = tmp_path / "song.mp4"
    subprocess.run(
        [*_ffmpeg(), "-f", "lavfi", "-i", "sine=d=0.5", str(audio)], check=True, capture_output=True
    )
    full = make_clip(tmp_path / "full.mp4", n=20, audio=False)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:4000])
    expected = {
        text: "not a video file",
        audio: "not a video file (no video stream)",
        cut: "cannot read video: it is truncated or corrupt",
    }
    for path, reason in expected.items():
        with pytest.raises(InputError) as info:
            probe_video(path)
        assert str(info.value) == f"{path}: {reason}"


def _ffmpeg() -> list[str]:
    import imageio_ffmpeg

    return [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y"]


def test_restore_names_a_bad_input_once(tmp_path, run_cli):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    proc = run_cli("restore", bad)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"faceveil: error: {bad}: not an image file"

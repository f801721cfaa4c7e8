"""Video round trips: frame count, rate, size, audio, metadata, containers, dropped detections."""

from __future__ import annotations

import json
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

import faceveil
from conftest import (
    clip_face_box,
    ffprobe_text,
    has_location,
    inner_slices,
    iou,
    leftovers,
    make_clip,
    norm_diff,
    read_all_frames,
    video_meta,
)

N_FRAMES = 40
DROPPED = range(10, 15)


def _assert_faces_hidden(src_frames, out_frames, size=(320, 240), step=1):
    """Every `step`-th frame: face core changed a lot, background about the same."""
    for i in range(0, len(src_frames), step):
        a, b = src_frames[i], out_frames[i]
        ys, xs = inner_slices(clip_face_box(i, size), 0.6)
        assert norm_diff(b[ys, xs], a[ys, xs]) > 0.04, f"face visible in frame {i}"
        # Background strip at the bottom, away from the face: only codec noise.
        assert norm_diff(b[-20:], a[-20:]) < 0.03, f"background changed in frame {i}"


def _assert_same_stream_shape(src: Path, out: Path, *, frames=N_FRAMES, size=(320, 240)):
    n_src, _ = imageio_ffmpeg.count_frames_and_secs(str(src))
    n_out, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_src == frames
    assert n_out == n_src
    meta_src, meta_out = video_meta(src), video_meta(out)
    assert meta_out["size"] == meta_src["size"] == size
    assert meta_out["fps"] == pytest.approx(meta_src["fps"], abs=0.01)
    assert meta_out.get("audio_codec"), "audio track lost"
    assert "Audio:" in ffprobe_text(out)


@pytest.fixture(scope="module")
def cli_round_trip(clip, run_cli, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_video")
    out = folder / "out.mp4"
    report = folder / "report.json"
    proc = run_cli("anonymize", clip, "-o", out, "-q", "--json", report)
    return proc, out, report


def test_clip_fixture_is_what_the_tests_assume(clip):
    """The generated input has the face, audio and location metadata the other tests remove."""
    text = ffprobe_text(clip)
    assert "Audio:" in text and has_location(text)
    frames = read_all_frames(clip)
    assert len(frames) == N_FRAMES
    for i in (0, 20, 39):
        faces = faceveil.detect(frames[i])
        assert len(faces) == 1 and iou(faces[0].box, clip_face_box(i)) > 0.6, i


def test_cli_round_trip_keeps_stream_and_hides_faces(clip, cli_round_trip):
    proc, out, _ = cli_round_trip
    assert proc.returncode == 0, proc.stderr
    _assert_same_stream_shape(clip, out)
    _assert_faces_hidden(read_all_frames(clip), read_all_frames(out))
    assert leftovers(out.parent) == []


def test_cli_round_trip_strips_location_metadata(cli_round_trip):
    proc, out, _ = cli_round_trip
    assert proc.returncode == 0, proc.stderr
    assert not has_location(ffprobe_text(out))
    assert b"48.8584" not in out.read_bytes()
    assert b"faceveil-secret" not in out.read_bytes()


def test_cli_video_json_report(cli_round_trip):
    proc, out, report_path = cli_round_trip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    (entry,) = report["files"]
    assert entry["kind"] == "video" and entry["status"] == "ok"
    assert entry["frame_count"] == N_FRAMES
    assert entry["fps"] == pytest.approx(25.0)
    assert entry["face_count"] == 1  # one face, one track
    assert entry["seconds"] > 0
    indices = [f["index"] for f in entry["frames"]]
    assert indices == list(range(N_FRAMES))
    for f in entry["frames"]:
        assert any(iou(face["box"], clip_face_box(f["index"])) > 0.5 for face in f["faces"])


def test_api_round_trip_and_keep_metadata(clip, tmp_path):
    out = tmp_path / "api.mp4"
    opts = faceveil.AnonymizeOptions(method="pixelate", keep_metadata=True)
    report = faceveil.anonymize_video(clip, out, opts, progress=False)
    assert report.frame_count == N_FRAMES
    assert report.fps == pytest.approx(25.0)
    _assert_same_stream_shape(clip, out)
    _assert_faces_hidden(read_all_frames(clip), read_all_frames(out), step=3)
    assert has_location(ffprobe_text(out))  # kept on request
    assert leftovers(tmp_path) == []


def test_odd_sized_video_keeps_its_size(tmp_path):
    size = (321, 241)
    src = make_clip(tmp_path / "odd.mp4", n=20, size=size)
    out = tmp_path / "odd_out.mp4"
    report = faceveil.anonymize_video(src, out, faceveil.AnonymizeOptions(), progress=False)
    assert report.frame_count == 20
    _assert_same_stream_shape(src, out, frames=20, size=size)
    _assert_faces_hidden(read_all_frames(src), read_all_frames(out), size=size, step=4)


@pytest.mark.parametrize("ext", [".mkv", ".avi", ".webm", ".mov"])
def test_output_containers(clip, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    report = faceveil.anonymize_video(clip, out, faceveil.AnonymizeOptions(), progress=False)
    assert report.frame_count == N_FRAMES
    _assert_same_stream_shape(clip, out)
    _assert_faces_hidden(read_all_frames(clip), read_all_frames(out), step=5)
    assert not has_location(ffprobe_text(out))
    assert leftovers(tmp_path) == []


def test_video_without_audio(tmp_path):
    src = make_clip(tmp_path / "silent.mp4", n=10, audio=False, location=None)
    out = tmp_path / "silent_out.mp4"
    report = faceveil.anonymize_video(src, out, faceveil.AnonymizeOptions(), progress=False)
    assert report.frame_count == 10
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 10
    assert "Audio:" not in ffprobe_text(out)


def test_dropped_detections_are_covered_by_tracking(clip, tmp_path):
    calls: list[int] = []

    def flaky(frame, options):
        index = len(calls)
        calls.append(index)
        if index in DROPPED:
            return []
        return faceveil.detect(frame, threshold=options.threshold, small_faces=False)

    out = tmp_path / "tracked.mp4"
    report = faceveil.anonymize_video(
        clip, out, faceveil.AnonymizeOptions(method="pixelate"), progress=False, detector=flaky
    )
    assert len(calls) == N_FRAMES
    assert report.frame_count == N_FRAMES
    by_index = {f["index"]: f["faces"] for f in report.frames}

    for i in DROPPED:
        faces = by_index.get(i, [])
        assert faces, f"frame {i}: nothing covered"
        assert all(f["predicted"] for f in faces), f"frame {i} should be marked predicted"
        assert any(iou(f["box"], clip_face_box(i)) > 0.4 for f in faces), faces
    for i in (5, 9, 15, 30):
        assert any(not f["predicted"] for f in by_index[i]), i
    # One track throughout.
    assert len({f["track_id"] for faces in by_index.values() for f in faces}) == 1

    src_frames, out_frames = read_all_frames(clip), read_all_frames(out)
    for i in DROPPED:
        ys, xs = inner_slices(clip_face_box(i), 0.6)
        diff = norm_diff(out_frames[i][ys, xs], src_frames[i][ys, xs])
        assert diff > 0.04, f"face visible in dropped frame {i} ({diff:.3f})"


def _no_output(folder: Path, out: Path) -> None:
    assert not out.exists()
    assert leftovers(folder) == []


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-at-end", "moov-at-start"])
def test_truncated_video_fails_cleanly(tmp_path, run_cli, faststart):
    full = make_clip(tmp_path / "full.mp4", faststart=faststart)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    full.unlink()
    out = tmp_path / "cut_out.mp4"

    proc = run_cli("anonymize", cut, "-o", out, "-q")
    assert proc.returncode == 1, f"truncated video accepted: {proc.stdout}"
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "cut.mp4" in line]
    assert len(errors) == 1, proc.stderr
    _no_output(tmp_path, out)

    with pytest.raises(faceveil.InputError) as info:
        faceveil.anonymize_video(cut, out, faceveil.AnonymizeOptions(), progress=False)
    assert "\n" not in str(info.value) and "cut.mp4" in str(info.value)
    _no_output(tmp_path, out)


@pytest.mark.parametrize(
    "content",
    [b"", b"definitely not a video\n", bytes(range(256)) * 40],
    ids=["empty", "text", "junk"],
)
def test_bad_video_files(tmp_path, run_cli, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    out = tmp_path / "bad_out.mp4"
    proc = run_cli("anonymize", bad, "-o", out, "-q")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "bad.mp4" in proc.stderr
    _no_output(tmp_path, out)


def test_video_to_image_output_is_refused(clip, tmp_path, run_cli):
    out = tmp_path / "frame.png"
    proc = run_cli("anonymize", clip, "-o", out, "-q")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    _no_output(tmp_path, out)


def test_video_in_folder_batch(clip, tmp_path, run_cli, astronaut):
    from PIL import Image

    root = tmp_path / "media"
    (root / "v").mkdir(parents=True)
    (root / "v" / "clip.mp4").write_bytes(clip.read_bytes())
    Image.fromarray(astronaut).save(root / "photo.png")
    proc = run_cli("anonymize", root, "-q")
    assert proc.returncode == 0, proc.stderr
    out_root = tmp_path / "media_anonymized"
    assert (out_root / "photo.png").is_file()
    out = out_root / "v" / "clip.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == N_FRAMES
    assert np.any(read_all_frames(out)[0] != read_all_frames(clip)[0])


def test_second_look_on_its_own_thread_finds_what_detecting_in_turn_finds(tmp_path):
    """CenterFace runs beside YuNet and the tracker waits for it: the faces of every frame are
    those of detecting each frame in turn."""
    from faceveil.anonymize.video import FrameFaces
    from faceveil.detect import faces_found, first_look, second_look
    from faceveil.io.video import read_frames
    from faceveil.testing import make_clip

    clip = tmp_path / "scene.mp4"
    make_clip(clip, 3, size=(640, 360), frames=24, n_faces=5, face_sizes=(12, 40), audio=False)
    options = faceveil.AnonymizeOptions()

    def in_turn(frame, opts):
        look = first_look(frame, **opts.detect_kwargs("video"), threads=1)
        return faces_found(look, second_look(look) if look.wants_second_look else None)

    def faces_per_frame(detector) -> list:
        info, frames = read_frames(clip)
        faces = FrameFaces(float(info.fps), options, detector)
        found: list = []
        try:
            for frame in frames:
                faces.add(frame, keep_frame=False)
                found += [f for _, _, f in faces.ready(4)]
            found += [f for _, _, f in faces.ready(0)]
        finally:
            faces.close()
        return [[(f.box, f.found_by, f.track_id, f.predicted) for f in fs] for fs in found]

    threaded = faces_per_frame(None)
    assert len(threaded) == 24
    # the second look counted: it confirmed or found faces
    assert any("centerface" in by for frame in threaded for _, by, _, _ in frame)
    assert threaded == faces_per_frame(in_turn)

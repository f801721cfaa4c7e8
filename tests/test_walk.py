"""The folder walk: media files in, other formats and broken links reported with a reason,
hidden files (faceveil's temp files among them) ignored, symlink loops never followed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from faceveil.anonymize import anonymize_paths
from faceveil.io.images import write_image
from faceveil.io.walk import media_files
from faceveil.testing import make_scene

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symlinks")


def _scene(path: Path, seed: int = 0) -> Path:
    img, _ = make_scene(seed, size=(160, 120), n_faces=1, face_sizes=(50, 60))
    return write_image(path, img)


@pytest.fixture
def tree(tmp_path) -> Path:
    """A folder with inputs, other formats, hidden files, broken links and two loops."""
    root = tmp_path / "photos"
    _scene(root / "a.jpg")
    _scene(root / "sub" / "B.PNG", 1)
    (root / "anim.gif").write_bytes(b"GIF89a" + bytes(32))
    (root / "sub" / "phone.heic").write_bytes(bytes(64))
    (root / "README").write_text("no extension")
    (root / ".DS_Store").write_bytes(bytes(8))
    _scene(root / ".git" / "hidden.jpg", 2)  # a hidden folder is never entered
    (root / "gone.jpg").symlink_to(root / "nowhere.jpg")
    (root / "self").symlink_to(root / "self")
    (root / "sub" / "up").symlink_to(root)  # a folder loop
    (root / "alias.jpg").symlink_to(root / "a.jpg")  # a link to a file is that file
    return root


def test_media_files_lists_inputs_and_says_why_others_are_skipped(tree):
    files, skipped = media_files(tree, [".jpg", ".png"])
    assert [p.relative_to(tree).as_posix() for p in files] == ["a.jpg", "alias.jpg", "sub/B.PNG"]
    assert [(s.path.relative_to(tree).as_posix(), s.reason) for s in skipped] == [
        ("README", "unsupported format (no extension)"),
        ("anim.gif", "unsupported format .gif"),
        ("gone.jpg", "dangling link"),
        ("self", "symlink loop"),
        ("sub/phone.heic", "unsupported format .heic"),
        ("sub/up", "symlink loop"),
    ]


def test_symlinked_folders_are_followed_once_and_excluded_folders_not_entered(tmp_path):
    outside = tmp_path / "outside"
    _scene(outside / "c.jpg")
    root = tmp_path / "root"
    _scene(root / "a.jpg")
    (root / "linked").symlink_to(outside)
    (outside / "back").symlink_to(root)  # root -> linked -> back -> root: a loop
    files, skipped = media_files(root, [".jpg"])
    assert [p.relative_to(root).as_posix() for p in files] == ["a.jpg", "linked/c.jpg"]
    assert [(s.path.name, s.reason) for s in skipped] == [("back", "symlink loop")]
    # Excluded by what the folder is, not by the spelling of its path.
    files, _ = media_files(root, [".jpg"], exclude=[outside])
    assert [p.name for p in files] == ["a.jpg"]


def test_folder_run_reports_skipped_files(tree, tmp_path):
    out = tmp_path / "out"
    batch = anonymize_paths([tree], out, progress=False)
    assert sorted(Path(f.input).name for f in batch.files) == ["B.PNG", "a.jpg", "alias.jpg"]
    assert not batch.failed
    reasons = {Path(s.input).name: s.reason for s in batch.skipped}
    assert reasons["anim.gif"] == "unsupported format .gif"
    assert reasons["phone.heic"] == "unsupported format .heic"
    assert reasons["gone.jpg"] == "dangling link"
    report = batch.to_dict()
    assert report["summary"]["skipped"] == len(batch.skipped) == 6
    assert {"input": str(tree / "anim.gif"), "reason": "unsupported format .gif"} in report[
        "skipped"
    ]
    json.dumps(report)  # it stays JSON


def test_cli_prints_the_skipped_files(tree, tmp_path, run_cli):
    report = tmp_path / "report.json"
    proc = run_cli("anonymize", tree, "-o", tmp_path / "out", "-q", "--json", report)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("faceveil: skipped 6 files: ")
    for text in ("anim.gif (unsupported format .gif)", "phone.heic (unsupported format .heic)",
                 "gone.jpg (dangling link)", "up (symlink loop)"):  # fmt: skip
        assert text in lines[0]
    assert json.loads(report.read_text())["summary"]["skipped"] == 6


def test_a_folder_of_only_unsupported_files_names_them(tmp_path, run_cli):
    root = tmp_path / "gifs"
    root.mkdir()
    (root / "anim.gif").write_bytes(b"GIF89a" + bytes(32))
    proc = run_cli("anonymize", root, "-q")
    assert proc.returncode == 1
    assert "skipped 1 file: " in proc.stderr and "anim.gif (unsupported format .gif)" in proc.stderr
    assert "no images or videos found" in proc.stderr


def test_batch_planning_lists_what_it_passes_over(tmp_path):
    """faceveil batch names the files it skips, like faceveil anonymize (local and fsspec)."""
    import fsspec
    from PIL import Image

    from faceveil.batch import plan_pairs

    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (32, 32)).save(src / "a.png")
    (src / "b.gif").write_bytes(b"GIF89a")
    (src / ".hidden.png").write_bytes(b"x")
    passed: list[str] = []
    pairs = plan_pairs(src, tmp_path / "out", passed)
    assert [Path(a).name for a, _ in pairs] == ["a.png"]
    assert passed == [f"{src.resolve() / 'b.gif'} (unsupported format .gif)"]
    fs = fsspec.filesystem("memory")
    fs.pipe("/walk/in/a.png", (src / "a.png").read_bytes())
    fs.pipe("/walk/in/notes.heic", b"x")
    passed = []
    plan_pairs("memory://walk/in", "memory://walk/out", passed)
    assert passed == ["memory://walk/in/notes.heic (unsupported format .heic)"]


def test_batch_summary_prints_the_skipped_files(capsys):
    from faceveil.batch.engine import BatchSummary
    from faceveil.cli.batch import _print_summary

    summary = BatchSummary(files=1, ok=1, passed_over=["in/b.gif (unsupported format .gif)"])
    _print_summary(summary)
    err = capsys.readouterr().err
    assert "faceveil: skipped 1 file: in/b.gif (unsupported format .gif)" in err

"""``shapiq-spex explain`` never throws a finished run away: output paths, atomic writes, faults."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_texts import REVIEW

import shapiq_spex.cli.explain as explain_module
from shapiq_spex.cli.main import main
from shapiq_spex.cli.output import MIN_FREE_BYTES


def run_cli(args, capsys):
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


@contextlib.contextmanager
def small_disk(folder: Path, size: str):
    """A real tmpfs of ``size`` mounted at ``folder`` (skips where mounting is not allowed)."""
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Write a file until the disk of ``folder`` is full; return it."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):  # ENOSPC: full
            while os.write(fd, b"\0" * 65536):
                pass
    finally:
        os.close(fd)
    return filler


def bad_paths(tmp_path: Path) -> list[tuple[list, str]]:
    (tmp_path / "r.png").mkdir()  # a folder where --out's PNG would go
    return [
        (["--json", tmp_path], "'--json' option"),
        (["--out", tmp_path], "is a folder"),
        (["--out", tmp_path / "missing" / "r.html"], "not a folder"),
        (["--json", tmp_path / "missing" / "r.json"], "not a folder"),
        (["--json", "/sys/result.json"], "no file can be written"),
        (["--out", tmp_path / "r.html"], "(its PNG)"),
        (["--out", tmp_path / "report.png"], "must name the HTML file"),
        (["--json", "/dev/full"], "not a regular file"),
        (["--cache", tmp_path], "'--cache' option"),
        (["--cache", tmp_path / "missing" / "c.sqlite"], "'--cache' option points into"),
        (["--json", tmp_path / "x.json", "--cache", tmp_path / "x.json"], "same file"),
        (["--out", tmp_path / "x.html", "--json", tmp_path / "x.png"], "same file"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_output_paths_are_refused_before_the_model_loads(case, tmp_path, capsys, no_model_load):
    args, needle = bad_paths(tmp_path)[case]
    status, _, err = run_cli([REVIEW, *args], capsys)
    assert status == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
def test_a_read_only_output_file_is_refused(tmp_path, capsys, no_model_load):
    target = tmp_path / "r.json"
    target.write_text("{}")
    target.chmod(0o444)
    status, _, err = run_cli([REVIEW, "--json", target], capsys)
    assert status == 2
    assert "read-only" in err


def test_a_full_disk_is_refused_before_the_model_loads(tmp_path, capsys, no_model_load):
    with small_disk(tmp_path / "disk", "1m") as disk:
        status, _, err = run_cli([REVIEW, "--json", disk / "r.json", "--no-report"], capsys)
    assert status == 2
    assert "MiB free" in err
    assert f"{MIN_FREE_BYTES // 2**20} MiB needed" in err


def test_outputs_are_written_atomically(tiny_classifier_dir, tmp_path, capsys):
    """Only the three files appear (no temporary file or folder is left), with normal modes."""
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    js.write_text("old")  # replaced as a whole
    args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 120, "--out", out, "--json", js]
    status, stdout, err = run_cli(args, capsys)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json", "r.png"]
    assert json.loads(js.read_text())["text"] == REVIEW
    umask = os.umask(0o022)
    os.umask(umask)
    assert js.stat().st_mode & 0o777 == 0o666 & ~umask
    # the table comes before the list of written files
    assert stdout.index("top 10 interactions") < stdout.index("wrote ")


def break_after_loading(monkeypatch, action):
    """Run ``action`` once the model is loaded: the disk fills or the folder vanishes mid-run."""
    original = explain_module.build_game

    def build_then_break(config):
        game = original(config)
        action()
        return game

    monkeypatch.setattr(explain_module, "build_game", build_then_break)


@pytest.mark.parametrize("fault", ["folder removed", "disk full"])
def test_a_failed_write_after_the_run_says_what_was_kept(
    fault, tiny_classifier_dir, tmp_path, capsys, monkeypatch
):
    """The table is printed first; the error says what was written and kept; a rerun with the
    same --cache writes the files without querying the model again."""
    cache = tmp_path / "run.sqlite"
    with contextlib.ExitStack() as stack:
        if fault == "disk full":
            folder = stack.enter_context(small_disk(tmp_path / "disk", "8m"))
            (folder / "r.json").write_text("the old result")
            fillers = []
            break_after_loading(monkeypatch, lambda: fillers.append(fill_disk(folder)))
        else:
            folder = tmp_path / "out"
            folder.mkdir()
            break_after_loading(monkeypatch, lambda: shutil.rmtree(folder))
        args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 120, "--json",
                folder / "r.json", "--out", folder / "r.html", "--cache", cache]  # fmt: skip
        status, out, err = run_cli(args, capsys)
        assert status == 1, err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        assert "the run finished but an output file could not be written" in err
        assert f"kept in the cache {str(cache)!r}" in err
        assert "top 10 interactions" in out  # the result was printed before the failure
        if fault == "disk full":
            assert "No space left on device" in err
            # the old file is untouched and no temporary file is left behind
            assert (folder / "r.json").read_text() == "the old result"
            assert sorted(p.name for p in folder.iterdir()) == ["filler.bin", "r.json"]
            fillers[0].unlink()
        else:
            folder.mkdir()
        monkeypatch.undo()
        status, out, err = run_cli(args, capsys)
        assert status == 0, err
        doc = json.loads((folder / "r.json").read_text())
        assert doc["engine"]["evaluated"] == 0  # every model answer came from the cache
        assert doc["engine"]["cache_hits"] > 0
        assert (folder / "r.png").stat().st_size > 5000


def test_ctrl_c_before_the_first_query_exits_130_without_traceback(
    tiny_classifier_dir, tmp_path, capsys, monkeypatch
):
    def interrupt(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(explain_module, "build_game", interrupt)
    status, _, err = run_cli([REVIEW, "--no-report", "--cache", tmp_path / "c.sqlite"], capsys)
    assert status == 130
    assert err.strip() == (
        "shapiq-spex explain: interrupted before the first model query; nothing to keep."
    )


def test_ctrl_c_without_cache_says_nothing_was_kept(tiny_classifier_dir, capsys, monkeypatch):
    from shapiq_spex.cli.explain import ProgressGame

    calls = []

    def interrupt_after_a_few_rows(self, coalitions):
        # ProxySPEX asks for all its coalitions in one call: answer a few, then Ctrl-C
        calls.append(len(coalitions))
        original(self, coalitions[:5])
        raise KeyboardInterrupt

    original = ProgressGame.__call__
    monkeypatch.setattr(ProgressGame, "__call__", interrupt_after_a_few_rows)
    args = [REVIEW, "--model", tiny_classifier_dir, "--budget", 300, "--no-report"]
    status, _, err = run_cli(args, capsys)
    assert status == 130
    assert len(err.strip().splitlines()) == 1, err
    assert "interrupted after" in err
    assert "nothing was kept (run with --cache FILE" in err


def test_a_damaged_cache_file_is_refused_before_the_model_loads(tmp_path, capsys, no_model_load):
    cache = tmp_path / "run.sqlite"
    cache.write_bytes(b"this is no SQLite database" * 100)
    status, _, err = run_cli([REVIEW, "--no-report", "--cache", cache], capsys)
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert str(cache) in err
    assert cache.read_bytes().startswith(b"this is no SQLite")  # left as it was


def test_the_console_table_tells_repeated_words_apart(tiny_classifier_dir, capsys):
    status, out, err = run_cli([REVIEW, "--model", tiny_classifier_dir, "--budget", 200,
                                "--no-report", "--top", 30], capsys)  # fmt: skip
    assert status == 0, err
    words = REVIEW.split()
    assert f"players   {len(words)} words" in out
    table = out[out.index("top 30 interactions") :].splitlines()[3:]
    rows = [line.split(maxsplit=3)[3] for line in table if line[:3].strip().isdigit()]
    labels = [label for row in rows for label in row.split(" \u00d7 ")]
    assert sum(bool(re.fullmatch(r"\S+ \(word \d+\)", label)) for label in labels) >= 3
    for label in labels:
        found = re.fullmatch(r"(\S+) \(word (\d+)\)", label)
        if found:  # a repeated word, with its position
            assert words.count(found.group(1)) > 1
            assert words[int(found.group(2)) - 1] == found.group(1)
        else:
            assert words.count(label) == 1, label


LONG_SENTENCES = (
    "The plot drags from the first scene to the last, and the jokes fall flat every time. "
    "The plot drags again in the middle, where the story loses its way for half an hour. "
    "The acting is wooden, the dialogue is clumsy, and nobody seems to care about it. "
    "Only the music, written by a young composer, keeps the film from being a total loss."
)


def test_the_console_table_keeps_every_member_of_a_long_group(tiny_classifier_dir, capsys):
    args = [LONG_SENTENCES, "--model", tiny_classifier_dir, "--players", "sentence"]
    status, out, err = run_cli([*args, "--budget", 16, "--no-report", "--top", 10], capsys)
    assert status == 0, err
    table = out[out.index("top 10 interactions") :].splitlines()
    assert table[1].split()[-1] == "sentences"
    rows = [line.split(maxsplit=3) for line in table[3:] if line[:3].strip().isdigit()]
    pairs = [row[3] for row in rows if row[2] == "2"]
    assert pairs  # 4 sentences, order 2: the exact path has every pair
    for label in pairs:
        assert len(label) <= 70
        members = label.split(" \u00d7 ")
        assert len(members) == 2  # both shown, each cut on its own
        assert all(m.startswith(("The plot", "The acting", "Only the")) for m in members), label
    assert len(set(pairs)) == len(pairs)  # the two "The plot drags ..." sentences stay apart


def test_group_labels_are_cut_member_by_member():
    from shapiq_spex.cli.output import _group_label

    assert _group_label(["not", "bad"], 70, " x ") == "not x bad"
    cut = _group_label(["a" * 50, "b" * 50], 40, " x ")
    assert cut == "a" * 17 + "\u2026 x " + "b" * 17 + "\u2026"

"""``--cache``: Ctrl-C and ``kill -9`` keep the finished model queries; resuming is identical.

The runs use the real offline MiniLM sentiment model on a real review: their model queries take
seconds, so signals land while the model is queried, between batches and inside commits. They
are real processes forked by ``forkserver.py`` (which imports torch and the package once); the
real ``python -m shapiq_spex`` entry point is tested in ``test_cli_explain.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from shapiq_spex.cli.main import DEMO_REVIEW

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BUDGET = 400
BATCH = 32
#: Keys of the JSON that differ between runs by design: wall times, this run's engine counters
#: and the cache's path.
RUN_KEYS = ("timing", "engine", "cache")


def explain_args(json_path: Path, cache: Path) -> list[str]:
    return ["explain", DEMO_REVIEW, "--budget", str(BUDGET), "--batch-size", str(BATCH),
            "--threads", "1", "--no-report", "--json", str(json_path), "--cache", str(cache),
            "--quiet"]  # fmt: skip


def result_document(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k not in RUN_KEYS}


def start_forkserver() -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, str(HERE / "forkserver.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip
    assert json.loads(server.stdout.readline()) == {"ready": True}
    return server


def ask(server: subprocess.Popen, request: dict) -> dict:
    server.stdin.write(json.dumps(request) + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def read_log(folder: Path) -> dict[str, int]:
    """Rows requested from the model (``Q``) and committed to the cache (``C``) by one run."""
    counts = {"Q": 0, "C": 0}
    path = folder / "log.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            kind, rows = line.split()
            counts[kind] += int(rows)
    return counts


class Runs:
    """Runs of ``shapiq-spex explain`` forked by the server (see ``forkserver.py``)."""

    def __init__(self, server: subprocess.Popen) -> None:
        self.server = server

    def start(self, argv: list[str], folder: Path) -> int:
        folder.mkdir(parents=True)
        return ask(self.server, {"run": argv, "dir": str(folder)})["pid"]

    def wait(self, pid: int) -> int:
        return ask(self.server, {"wait": pid})["status"]

    def run(self, argv: list[str], folder: Path) -> int:
        return self.wait(self.start(argv, folder))


@pytest.fixture(scope="module")
def runs():
    server = start_forkserver()
    yield Runs(server)
    server.stdin.close()  # the server ends at the end of its input
    server.wait(timeout=60)


@pytest.fixture(scope="module")
def reference(runs, tmp_path_factory):
    """The JSON of an uninterrupted run with its own new cache."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    out = folder.parent / "result.json"
    status = runs.run(explain_args(out, folder.parent / "run.sqlite"), folder)
    assert status == 0, (folder / "err.txt").read_text()
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["engine"]["cache_hits"] == 0
    assert doc["engine"]["evaluated"] > 6 * BATCH
    return doc


def same_result(doc: dict, reference: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k not in RUN_KEYS}  # noqa: E731
    return strip(doc) == strip(reference)


def wait_for_commits(folder: Path, rows: float, before: int = 0) -> None:
    """Wait until the run logging to ``folder`` (plus ``before``) committed ``rows`` rows."""
    deadline = time.monotonic() + 120
    while before + read_log(folder)["C"] < rows:
        assert time.monotonic() < deadline, (folder / "err.txt").read_text()
        time.sleep(0.01)


@pytest.mark.slow
def test_ctrl_c_keeps_the_queries_and_the_same_command_resumes(runs, reference, tmp_path):
    """SIGINT: exit status 130, one line naming the cache and how to resume, no traceback."""
    cache, out = tmp_path / "run.sqlite", tmp_path / "result.json"
    pid = runs.start(explain_args(out, cache), tmp_path / "interrupted")
    wait_for_commits(tmp_path / "interrupted", 3 * BATCH)
    os.kill(pid, signal.SIGINT)
    assert runs.wait(pid) == 130
    err = (tmp_path / "interrupted" / "err.txt").read_text()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "interrupted after" in err
    assert f"kept in the cache {str(cache)!r}" in err
    assert "run the same command again to resume" in err
    assert not out.exists()  # no JSON of an unfinished run
    kept = read_log(tmp_path / "interrupted")["C"]
    # the same command resumes: what was kept is read, not evaluated again
    assert runs.run(explain_args(out, cache), tmp_path / "resumed") == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert same_result(doc, reference)
    assert doc["cache"] == str(cache)
    assert doc["engine"]["cache_hits"] == kept - doc["engine"]["probe_evaluated"]
    assert (
        doc["engine"]["cache_hits"] + doc["engine"]["evaluated"] == reference["engine"]["evaluated"]
    )


@pytest.mark.slow
def test_kill_9_at_five_random_moments_then_resume_gives_the_identical_json(
    runs, reference, tmp_path
):
    """Five SIGKILLs at random moments, then a resume: the JSON of an uninterrupted run.

    Each kill may lose at most the batch it was evaluating (plus the cache's four probe
    coalitions, which every run that opens an existing cache evaluates again to check it).
    The moments are drawn from ``SHAPIQ_SPEX_KILL_SEED`` (default 11); the timing of the runs
    varies anyway, so each run of the test probes other moments.
    """
    rng = np.random.default_rng(int(os.environ.get("SHAPIQ_SPEX_KILL_SEED", "11")))
    distinct = reference["engine"]["evaluated"]
    probes = reference["engine"]["probe_evaluated"]
    cache, out = tmp_path / "run.sqlite", tmp_path / "result.json"
    targets = np.sort(rng.uniform(0.0, 0.85, size=5)) * distinct  # committed rows at a kill
    committed = 0
    for k, target in enumerate(targets):
        folder = tmp_path / f"killed-{k}"
        pid = runs.start(explain_args(out, cache), folder)
        wait_for_commits(folder, target, before=committed)
        time.sleep(rng.uniform(0.0, 0.15))  # inside a batch, a commit or between them
        os.kill(pid, signal.SIGKILL)
        assert runs.wait(pid) == -signal.SIGKILL, (folder / "err.txt").read_text()
        log = read_log(folder)
        lost = log["Q"] - log["C"]  # requested from the model but not on disk
        assert 0 <= lost <= BATCH + probes, (k, log)
        committed += log["C"]
        assert not out.exists()

    folder = tmp_path / "resumed"
    assert runs.run(explain_args(out, cache), folder) == 0, (folder / "err.txt").read_text()
    final = json.loads(out.read_text(encoding="utf-8"))
    assert same_result(final, reference)
    engine = final["engine"]
    # the resumed run read everything the killed runs committed and evaluated only the rest
    assert engine["cache_hits"] + engine["evaluated"] == distinct
    log = read_log(folder)
    assert log["Q"] == engine["evaluated"] + engine["probe_evaluated"]
    # over the six runs the model answered each distinct coalition once, plus the lost batches
    requested = sum(read_log(tmp_path / f"killed-{k}")["Q"] for k in range(5)) + log["Q"]
    assert requested <= distinct + probes + 5 * (BATCH + probes)

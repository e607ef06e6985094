"""A prepared interpreter that forks ``shapiq-spex`` command runs, for the kill-and-resume tests.

Starting ``python -m shapiq_spex`` costs 8-14 s on two busy cores (torch, transformers and shapiq
are imported, and the first model load imports more), which would put seven runs over a minute.
This server imports them once (no model query runs in it, so no thread pool exists at a fork)
and forks one process per run; each child is a real process that runs the command's
``main(argv)`` with its own stdout and stderr files, and is killed with real signals.

For the accounting of re-queried work every child appends to its ``log.txt``:

* ``Q <rows>`` before the query engine sends a batch to the model (rows requested), and
* ``C <rows>`` after the cache committed a batch (rows on disk).

Protocol (one JSON object per line on stdin, answers on stdout): ``{"run": argv, "dir": path}``
answers ``{"pid": ...}``; ``{"wait": pid}`` answers ``{"status": exit code or -signal}``;
``{"quit": true}`` ends the server. ``{"ready": true}`` is printed once everything is imported.
"""

from __future__ import annotations

import json
import os
import signal
import sys

# An ignored SIGINT is inherited through exec (some earlier test or library in the pytest
# process leaves it ignored in a full run), and Python then installs no KeyboardInterrupt
# handler: the Ctrl-C test's runs would ignore the signal. A terminal's Ctrl-C reaches a user's
# run with the default handler, so restore it here.
signal.signal(signal.SIGINT, signal.default_int_handler)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"  # no tokenizer threads before a fork

import torch  # noqa: E402

torch.set_num_threads(1)

import shapiq_spex.approximators.proxyspex  # noqa: E402
import shapiq_spex.cli.explain  # noqa: E402
import shapiq_spex.engine.executors as executors  # noqa: E402
import shapiq_spex.games.text_classification  # noqa: E402
import shapiq_spex.models.sentiment  # noqa: E402
import shapiq_spex.plot.text  # noqa: E402
from shapiq_spex.cli.main import main  # noqa: E402
from shapiq_spex.engine.store import SQLiteStore  # noqa: E402

_LOG: list[int] = []  # the child's log file descriptor


def _log(kind: str, rows: int) -> None:
    if _LOG:
        os.write(_LOG[0], f"{kind} {rows}\n".encode())


_evaluate_batch = executors.evaluate_batch
_put_many = SQLiteStore.put_many


def _logged_evaluate_batch(game, batch):
    _log("Q", len(batch))
    return _evaluate_batch(game, batch)


def _logged_put_many(self, keys, values):
    _put_many(self, keys, values)
    _log("C", len(keys))


executors.evaluate_batch = _logged_evaluate_batch
SQLiteStore.put_many = _logged_put_many
# Load the model once so that transformers' lazily imported parts are imported here (the first
# load in a process takes 4 s, later ones 0.1 s); each run loads its own copy again.
shapiq_spex.models.sentiment.load_sentiment_model(device="cpu")


def _child(argv: list[str], folder: str) -> None:
    """Run ``main(argv)`` with stdout/stderr in ``folder``; never returns."""
    status = 70
    try:
        log = os.path.join(folder, "log.txt")
        _LOG.append(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
        for fd, name in ((1, "out.txt"), (2, "err.txt")):
            target = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin.close()
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # a bug: show it in err.txt
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve() -> None:
    """Answer requests until ``quit``."""
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["run"], request["dir"])
            answer = {"pid": pid}
        elif "wait" in request:
            _, status = os.waitpid(request["wait"], 0)
            answer = {"status": os.waitstatus_to_exitcode(status)}
        else:
            break
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()

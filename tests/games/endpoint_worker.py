"""Run an EndpointGame under a cached QueryEngine, one batch per call (a target for kill -9).

Usage: ``python endpoint_worker.py SPEC.json``; the spec holds the endpoint URL, the game's keyword
arguments, the coalitions file, the cache path, the batch size and the output file. Prints
``done <first row>`` after each committed batch, then writes the values of all coalitions.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from shapiq_spex.engine import QueryEngine
from shapiq_spex.games.endpoint import EndpointGame


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    x = np.load(spec["coalitions"])
    game = EndpointGame(spec["context"], spec["url"], "smollm2", **spec["game"])
    batch = int(spec["batch_size"])
    with QueryEngine(game, cache=spec["cache"], batch_size=batch, progress=False) as engine:
        for start in range(0, x.shape[0], batch):
            engine(x[start : start + batch])
            print(f"done {start}", flush=True)
        np.save(spec["out"], engine(x))
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

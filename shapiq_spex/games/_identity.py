"""Cache identities of games: deterministic, JSON-serialisable descriptions of what a game computes.

A game that can be cached defines ``cache_identity() -> dict``. The dict must be equal in every
process that builds the same game and differ whenever the game's values differ; the query engine
keys its cache by ``sha256(json.dumps(identity, sort_keys=True))`` plus the number of players (see
:func:`shapiq_spex.engine.store.identity_digest`). The helpers here describe the parts games share:

* :func:`model_identity`: a torch model by the SHA-256 of its weights and buffers (bytes, dtypes and
  shapes, memoised per process until a tensor is modified) and of its config. A model name or
  folder is *not* part of it: the same weights loaded from another folder (or a moved
  environment) compute the same values, and the hash catches a changed checkpoint that kept its
  name. The device is not part of it either: values on another device agree to float rounding,
  which the engine's probe check tolerates.
* :func:`tokenizer_identity`: a fast tokenizer by the SHA-256 of its serialized pipeline and its
  special tokens.
* :func:`players_identity` and :func:`masker_identity`: text players (granularity, region, spans,
  token ids) and the masking strategy (mask, pad and replacement token ids).
* :func:`array_digest` and :func:`estimator_identity` for data games.

:data:`VALUE_SEMANTICS` is bumped whenever a game of this package changes what its values mean
(a new scoring rule, a fixed masking bug), so that caches written before are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import weakref
from typing import Any

import numpy as np

from shapiq_spex.exceptions import GameIdentityError

__all__ = [
    "VALUE_SEMANTICS",
    "array_digest",
    "canonical",
    "estimator_identity",
    "game_identity",
    "masker_identity",
    "model_identity",
    "players_identity",
    "qualname",
    "text_game_identity",
    "tokenizer_identity",
]

#: Version of the value definitions of this package's games (part of every identity).
VALUE_SEMANTICS = 1

# Weight digests per model object: (signature of its tensors, digest). A tensor modified in place
# bumps its ``_version`` counter, so the signature changes and the weights are hashed again.
_WEIGHT_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TOKENIZER_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def qualname(obj: Any) -> str:
    """``module.QualName`` of a class, function, or the class of an instance."""
    target = (
        obj
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__"))
        else type(obj)
    )
    return f"{getattr(target, '__module__', '?')}.{target.__qualname__}"


def array_digest(array: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes (``"sha256:<hex>"``).

    Raises:
        GameIdentityError: an object array whose elements have no stable text form.
    """
    arr = np.asarray(array)
    h = hashlib.sha256()
    if arr.dtype.kind == "O":
        text = json.dumps(canonical(arr.tolist(), what="array element"), sort_keys=True)
        h.update(f"object{arr.shape}".encode())
        h.update(text.encode())
    else:
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return "sha256:" + h.hexdigest()


def canonical(value: Any, *, what: str = "value") -> Any:
    """A JSON-serialisable, process-independent form of a parameter value.

    Numbers, strings, bools and None stay; numpy scalars become Python ones; arrays become their
    :func:`array_digest`; lists, tuples and dicts are converted elementwise (dict keys become
    strings); estimators become :func:`estimator_identity`; classes and functions their
    ``module.qualname``.

    Raises:
        GameIdentityError: a value whose only text form holds a memory address (it would differ
            in every process) or a non-finite float.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return repr(value)
        return value
    if isinstance(value, np.ndarray):
        return array_digest(value)
    if isinstance(value, list | tuple):
        return [canonical(v, what=what) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v, what=what) for k, v in value.items()}
    if hasattr(value, "get_params") and hasattr(value, "fit"):
        return estimator_identity(value)
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        if "<lambda>" in value.__qualname__ or "<locals>" in value.__qualname__:
            msg = (
                f"The {what} {value!r} is a lambda or local function, which has no stable name "
                "across processes; use a module-level function."
            )
            raise GameIdentityError(msg)
        return qualname(value)
    text = repr(value)
    if " at 0x" in text:
        msg = (
            f"The {what} {text} has no stable description (its repr holds a memory address), so "
            "the game cannot be identified for a cache."
        )
        raise GameIdentityError(msg)
    return f"{qualname(value)}:{text}"


def _tensor_signature(tensors: list[tuple[str, Any]]) -> tuple | None:
    """What changes when a tensor is replaced or modified in place; None if it cannot tell."""
    try:
        return tuple(
            (name, t.data_ptr(), t._version, tuple(t.shape), str(t.dtype)) for name, t in tensors
        )
    except RuntimeError:  # inference tensors (made under torch.inference_mode) have no version
        return None


def _config_identity(config: Any) -> str | None:
    if config is None or not hasattr(config, "to_dict"):
        return None
    items = {
        k: v
        for k, v in config.to_dict().items()
        # private keys (attention implementation, commit hash), the version of transformers that
        # wrote the file and the folder it was read from do not change what the model computes;
        # the dtype is read off the weights
        if not k.startswith("_")
        and k not in ("transformers_version", "name_or_path", "torch_dtype", "dtype")
    }
    text = json.dumps(canonical(items, what="model config entry"), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def model_identity(model: Any) -> dict[str, Any]:
    """Identity of a torch model: class, weights digest, config digest and dtype.

    The weights digest is the SHA-256 over every entry of ``state_dict()`` (name, dtype, shape
    and raw bytes); it is computed once per process and model object and recomputed only when a
    tensor is replaced or modified in place (about 0.1 s per 100 MB of weights).

    State outside ``state_dict()`` (a Python attribute a custom ``forward`` reads) is not seen;
    the engine's probe check catches such changes when they move the values.

    Raises:
        GameIdentityError: a module in training mode (dropout makes values random), or a tensor
            without data (meta device, quantized or sparse storage).
    """
    import torch

    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        msg = (
            f"The model is in training mode ({len(training)} modules, e.g. {training[0]!r}), so "
            "dropout makes its values random and they cannot be cached; call model.eval()."
        )
        raise GameIdentityError(msg)
    tensors = list(model.state_dict().items())
    signature = _tensor_signature(tensors)
    memo = _WEIGHT_MEMO.get(model)
    if memo is not None and signature is not None and memo[0] == signature:
        digest = memo[1]
    else:
        h = hashlib.sha256()
        for name, tensor in tensors:
            t = tensor.detach()
            if t.is_meta or t.is_sparse or t.is_quantized:
                msg = (
                    f"The model's tensor {name!r} has no plain data ({t.layout}, device "
                    f"{t.device}), so its weights cannot be hashed for the cache identity; pass "
                    "key= to QueryEngine instead."
                )
                raise GameIdentityError(msg)
            raw = t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(memoryview(raw))
        digest = "sha256:" + h.hexdigest()
        _WEIGHT_MEMO[model] = (signature, digest)
    dtypes = sorted(
        {str(t.dtype).removeprefix("torch.") for _, t in tensors if t.is_floating_point()}
    )
    return {
        "class": qualname(model),
        "weights": digest,
        "config": _config_identity(getattr(model, "config", None)),
        "dtype": ",".join(dtypes),
    }


def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """Identity of a fast tokenizer: class and SHA-256 of its pipeline and special tokens."""
    memo = _TOKENIZER_MEMO.get(tokenizer)
    if memo is not None:
        return dict(memo)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        msg = (
            f"The tokenizer {type(tokenizer).__name__} is not a fast tokenizer, so it cannot be "
            "identified for the cache; pass key= to QueryEngine instead."
        )
        raise GameIdentityError(msg)
    h = hashlib.sha256(backend.to_str().encode())
    specials = getattr(tokenizer, "special_tokens_map", {}) or {}
    h.update(json.dumps(canonical(dict(specials)), sort_keys=True).encode())
    out = {"class": qualname(tokenizer), "pipeline": "sha256:" + h.hexdigest()}
    with contextlib.suppress(TypeError):  # not weak-referenceable: hashed again next time
        _TOKENIZER_MEMO[tokenizer] = out
    return dict(out)


def players_identity(players: Any) -> dict[str, Any]:
    """Identity of :class:`~shapiq_spex.text.TextPlayers`: granularity, region, spans, tokens."""
    return {
        "granularity": players.granularity,
        "region": [int(players.region[0]), int(players.region[1])],
        "spans": players.spans.astype(np.int64).tolist(),
        "input_ids": array_digest(players.input_ids.astype(np.int64)),
        "token_player": array_digest(players.token_player.astype(np.int64)),
    }


def masker_identity(masker: Any) -> dict[str, Any]:
    """Identity of a :class:`~shapiq_spex.text.TextMasker`: strategy and the token ids it writes."""
    repl = masker.replacement_ids
    mask_id = getattr(masker, "_mask_id", None)
    return {
        "strategy": masker.strategy,
        "mask_token_id": None if mask_id is None else int(mask_id),
        "replacement_ids": None if repl is None else repl.astype(np.int64).tolist(),
    }


def estimator_identity(estimator: Any) -> dict[str, Any]:
    """Identity of a scikit-learn estimator: its class and canonical ``get_params(deep=False)``."""
    params = estimator.get_params(deep=False)
    return {
        "class": qualname(estimator),
        "params": canonical(params, what=f"parameter of {type(estimator).__name__}"),
    }


def game_identity(game: Any, **fields: Any) -> dict[str, Any]:
    """``{"game": <class name>, "value_semantics": VALUE_SEMANTICS, **fields}``."""
    return {"game": type(game).__name__, "value_semantics": VALUE_SEMANTICS, **fields}


def text_game_identity(game: Any, **fields: Any) -> dict[str, Any]:
    """:func:`game_identity` of a text game: model, tokenizer, players, masking, normalization."""
    return game_identity(
        game,
        model=model_identity(game.model),
        tokenizer=tokenizer_identity(game.tokenizer),
        players=players_identity(game.players),
        masking=masker_identity(game.masker),
        normalized=bool(game.normalize),
        **fields,
    )

"""Shared torch helpers of the language-model games: imports, devices, dtypes, model loading.

torch and transformers are optional (the ``llm`` extra); they are imported only when a game or a
model loader needs them, and a missing install raises an ``ImportError`` that names the extra.

Model names accepted wherever a game takes ``model``:

* ``"minilm-sentiment"``: the offline MiniLM sentiment classifier
  (:func:`shapiq_spex.models.load_sentiment_model`), a sequence classifier.
* ``"minilm"``: the offline all-MiniLM-L6-v2 encoder (:func:`shapiq_spex.models.load_minilm`).
* ``"smollm2"``: the offline SmolLM2-135M-Instruct causal LM
  (:func:`shapiq_spex.models.load_smollm2`).
* any other string: a Hugging Face hub name or a local folder, loaded with ``from_pretrained``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.text.players import check_fast_tokenizer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import torch

__all__ = [
    "BUILTIN_MODELS",
    "LLM_INSTALL_HINT",
    "OUTPUTS",
    "Task",
    "as_tensor",
    "check_batch_size",
    "check_choice",
    "check_fast_tokenizer",
    "from_pretrained_checked",
    "import_torch",
    "import_transformers",
    "iter_chunks",
    "load_model_and_tokenizer",
    "max_sequence_length",
    "mean_pool",
    "model_device",
    "output_logits",
    "resolve_class",
    "resolve_device",
    "resolve_dtype",
    "run_batched",
    "run_length_sorted",
    "score_logits",
]

LLM_INSTALL_HINT = "pip install 'shapiq-spex[llm]'"

Task = Literal["sequence-classification", "causal-lm", "encoder"]
_TASKS: tuple[str, ...] = ("sequence-classification", "causal-lm", "encoder")

#: Built-in offline models: name -> (task, loader path "module:function").
BUILTIN_MODELS: dict[str, tuple[str, str]] = {
    "minilm-sentiment": (
        "sequence-classification",
        "shapiq_spex.models.sentiment:load_sentiment_model",
    ),
    "minilm": ("encoder", "shapiq_spex.models.sentiment:load_minilm"),
    "smollm2": ("causal-lm", "shapiq_spex.models.smollm2:load_smollm2"),
}

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float64": "float64",
    "fp64": "float64",
}


def import_torch():
    """Import and return ``torch``, or raise an ``ImportError`` naming the ``llm`` extra."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = f"This feature needs torch. Install it with `{LLM_INSTALL_HINT}`."
        raise ImportError(msg) from err
    return torch


def import_transformers():
    """Import and return ``transformers``, or raise an ``ImportError`` naming the ``llm`` extra."""
    import_torch()
    try:
        import transformers
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = f"This feature needs transformers. Install it with `{LLM_INSTALL_HINT}`."
        raise ImportError(msg) from err
    return transformers


def model_device(model) -> torch.device:
    """The device of the first parameter (or buffer) of ``model``; CPU for a model without any."""
    torch = import_torch()
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def resolve_device(device, *, default=None) -> torch.device:
    """Turn ``device`` into a ``torch.device``.

    Args:
        device: ``None``, a string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``, or a
            ``torch.device``.
        default: the device used when ``device`` is ``None``; ``None`` means ``"cuda"`` when
            available, else ``"cpu"``.

    Raises:
        InvalidParameterError: an unknown device string or a CUDA device without CUDA.
    """
    torch = import_torch()
    if device is None:
        if default is not None:
            return torch.device(default)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        msg = f"The 'device' parameter must be a torch device like 'cpu'. Got {device!r}."
        raise InvalidParameterError(msg) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        msg = f"The 'device' parameter is {device!r} but CUDA is not available; use device='cpu'."
        raise InvalidParameterError(msg)
    return dev


def resolve_dtype(dtype) -> torch.dtype | None:
    """Turn ``dtype`` (``None``, a name such as ``"bf16"``, or a ``torch.dtype``) into a dtype.

    Returns:
        ``None`` for ``None`` (keep the model's dtype), else a floating ``torch.dtype``.

    Raises:
        InvalidParameterError: an unknown name or a non-floating dtype.
    """
    torch = import_torch()
    if dtype is None:
        return None
    if isinstance(dtype, str):
        key = dtype.lower().removeprefix("torch.")
        if key not in _DTYPES:
            msg = (
                f"The 'dtype' parameter must be one of {sorted(set(_DTYPES))} or a floating "
                f"torch.dtype. Got {dtype!r}."
            )
            raise InvalidParameterError(msg)
        return getattr(torch, _DTYPES[key])
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    msg = f"The 'dtype' parameter must be a floating torch.dtype or its name. Got {dtype!r}."
    raise InvalidParameterError(msg)


def _auto_class(transformers, task: str):
    return {
        "sequence-classification": transformers.AutoModelForSequenceClassification,
        "causal-lm": transformers.AutoModelForCausalLM,
        "encoder": transformers.AutoModel,
    }[task]


def _call_loader(path: str, **kwargs):
    import importlib

    module_name, func_name = path.split(":")
    return getattr(importlib.import_module(module_name), func_name)(**kwargs)


#: What to pass instead, per task, when a checkpoint lacks weights the model needs.
_COMPLETE_CHECKPOINT = {
    "sequence-classification": (
        "a checkpoint fine-tuned for sequence classification (with its trained classification "
        "head), or the offline 'minilm-sentiment'"
    ),
    "causal-lm": "a causal language model checkpoint with its LM head, or the offline 'smollm2'",
    "encoder": "a complete encoder checkpoint, or the offline 'minilm'",
}


def from_pretrained_checked(auto_class, name, *, task: Task, **kwargs):
    """``auto_class.from_pretrained(name)`` that refuses checkpoints lacking weights of the model.

    transformers initialises weights missing from a checkpoint at random with a warning, for
    example the classification head when an encoder folder is loaded as a sequence classifier:
    every run would then explain another random model, whatever the seed. The encoder task
    accepts a missing pooler (the games pool the hidden states themselves).

    Args:
        auto_class: a transformers ``AutoModel*`` class (or any class with ``from_pretrained``).
        name: hub name or local folder.
        task: the task the model is loaded for (names the fix in the message).
        **kwargs: passed on to ``from_pretrained``.

    Returns:
        The loaded model.

    Raises:
        InvalidParameterError: weights the model needs are missing from the checkpoint.
    """
    # transformers logs a multi-line load report of the missing weights; hold it back and show
    # it only when the checkpoint is accepted (the error below says the same in one line)
    logger = logging.getLogger("transformers.modeling_utils")
    held: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = held.append
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        model, info = auto_class.from_pretrained(name, output_loading_info=True, **kwargs)
    except BaseException:
        _release(logger, handler, propagate, held)
        raise
    _release(logger, handler, propagate, [])
    missing = sorted(info.get("missing_keys") or ())
    if task == "encoder":
        missing = [key for key in missing if "pooler" not in key.split(".")]
    if missing:
        shown = ", ".join(missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        msg = (
            f"The 'model' parameter {str(name)!r} has no trained weights for {len(missing)} "
            f"parameters of {type(model).__name__} ({shown}): transformers would initialise them "
            "at random, so the results would explain a random model and change from run to run "
            f"even with the same seed. Pass {_COMPLETE_CHECKPOINT[task]}."
        )
        raise InvalidParameterError(msg)
    for record in held:
        logger.handle(record)
    return model


def _release(logger, handler, propagate: bool, records) -> None:
    """Undo the hold of :func:`from_pretrained_checked` and emit the held ``records``."""
    logger.removeHandler(handler)
    logger.propagate = propagate
    for record in records:
        logger.handle(record)


def load_model_and_tokenizer(
    model,
    tokenizer=None,
    *,
    task: Task,
    device=None,
    dtype=None,
) -> tuple[Any, Any]:
    """Load (or take) a model and its fast tokenizer, in eval mode, on a device and dtype.

    Args:
        model: a built-in name (see the module docstring), a Hugging Face hub name or local folder
            (loaded with the ``AutoModel*`` class of ``task`` and ``from_pretrained``), or an
            already loaded ``torch.nn.Module``.
        tokenizer: ``None`` (only with a model name: the tokenizer of the same name), a name or
            folder for ``AutoTokenizer.from_pretrained``, or a loaded fast tokenizer.
        task: ``"sequence-classification"``, ``"causal-lm"`` or ``"encoder"``.
        device: the device to put the model on. ``None`` keeps a given model where it is and puts
            a model loaded by name on CUDA when available, else the CPU.
        dtype: the floating dtype to cast the model to; ``None`` keeps it (float32 when loaded).

    Returns:
        ``(model, tokenizer)``. The model is switched to eval mode (and moved or cast in place
        when ``device``/``dtype`` are given), so that dropout does not make game values random.

    Raises:
        InvalidParameterError: a built-in name of another task, a tokenizer passed with a
            built-in name, a model object without tokenizer, or a slow tokenizer.
    """
    if task not in _TASKS:
        msg = f"The 'task' parameter must be one of {_TASKS}. Got {task!r}."
        raise InvalidParameterError(msg)
    torch = import_torch()
    dev = resolve_device(device) if device is not None else None
    dt = resolve_dtype(dtype)
    if isinstance(model, str):
        if model in BUILTIN_MODELS:
            builtin_task, loader = BUILTIN_MODELS[model]
            if builtin_task != task:
                others = [k for k, (t, _) in BUILTIN_MODELS.items() if t == task]
                msg = (
                    f"The 'model' parameter names the built-in {builtin_task} model {model!r}, "
                    f"but this game needs a {task} model. Built-in {task} models: {others}; or "
                    "pass a Hugging Face name or a loaded model."
                )
                raise InvalidParameterError(msg)
            if tokenizer is not None:
                msg = (
                    f"The 'tokenizer' parameter must be None with the built-in model {model!r} "
                    "(it comes with its own tokenizer)."
                )
                raise InvalidParameterError(msg)
            model, tokenizer = _call_loader(loader, device=dev or resolve_device(None), dtype=dt)
        else:
            transformers = import_transformers()
            name = model
            kwargs = {"dtype": dt} if dt is not None else {}
            model = from_pretrained_checked(
                _auto_class(transformers, task), name, task=task, **kwargs
            )
            tok_name = name if tokenizer is None else tokenizer
            if isinstance(tok_name, str):
                tokenizer = transformers.AutoTokenizer.from_pretrained(tok_name)
            model = model.to(dev or resolve_device(None))
    elif isinstance(model, torch.nn.Module):
        if tokenizer is None:
            msg = (
                "The 'tokenizer' parameter is required when 'model' is a loaded torch module; "
                "pass its fast tokenizer (or a name for AutoTokenizer.from_pretrained)."
            )
            raise InvalidParameterError(msg)
        if isinstance(tokenizer, str):
            tokenizer = import_transformers().AutoTokenizer.from_pretrained(tokenizer)
        if dev is not None:
            model = model.to(dev)
        if dt is not None:
            model = model.to(dt)
    else:
        msg = (
            "The 'model' parameter must be a model name (built-in: "
            f"{sorted(BUILTIN_MODELS)}, or a Hugging Face name) or a torch.nn.Module. "
            f"Got {type(model).__name__}."
        )
        raise InvalidParameterError(msg)
    check_fast_tokenizer(tokenizer)
    model.eval()
    return model, tokenizer


def max_sequence_length(model) -> int | None:
    """The longest input the model's position embeddings allow, or ``None`` when unbounded."""
    config = getattr(model, "config", None)
    for attr in ("max_position_embeddings", "n_positions"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def output_logits(output) -> torch.Tensor:
    """The logits of a model output: a tensor, an object with ``.logits``, or a tuple."""
    torch = import_torch()
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, tuple | list) and output:
        logits = output[0]
    if not isinstance(logits, torch.Tensor):
        msg = (
            "The model must return a logits tensor, an output with `.logits`, or a tuple whose "
            f"first entry is the logits. Got {type(output).__name__}."
        )
        raise InvalidParameterError(msg)
    return logits


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over the real (unpadded) tokens.

    Args:
        hidden: ``(b, T, d)`` hidden states.
        attention_mask: ``(b, T)``, 1 for real tokens, 0 for padding.

    Returns:
        ``(b, d)`` mean-pooled states, in the dtype of ``hidden``.
    """
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def as_tensor(array: np.ndarray, device) -> torch.Tensor:
    """An int64 numpy array as a torch tensor on ``device`` (no copy on the CPU)."""
    torch = import_torch()
    arr = np.ascontiguousarray(array, dtype=np.int64)
    if not arr.flags.writeable:  # broadcast views: torch wants writable memory
        arr = arr.copy()
    return torch.from_numpy(arr).to(device)


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Slices ``[0, size), [size, 2 size), ...`` covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def check_batch_size(batch_size, *, name: str = "batch_size") -> int:
    """Validate a positive integer batch size."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        msg = f"The '{name}' parameter must be a positive int. Got {batch_size!r}."
        raise InvalidParameterError(msg)
    return int(batch_size)


def check_choice(value, choices, *, name: str) -> str:
    """Raise unless ``value`` is one of ``choices``; return it."""
    if not isinstance(value, str) or value not in choices:
        msg = f"The '{name}' parameter must be one of {tuple(choices)}. Got {value!r}."
        raise InvalidParameterError(msg)
    return value


def run_batched(
    fn: Callable[[slice], np.ndarray], n: int, batch_size: int, *, width: int | None = None
) -> np.ndarray:
    """Evaluate ``fn`` on consecutive slices of ``range(n)`` and concatenate, under inference mode.

    Args:
        fn: maps a slice of rows to a float array of ``(rows,)`` or ``(rows, width)``.
        n: number of rows.
        batch_size: rows per call.
        width: ``None`` for 1-D results, else the width of 2-D results.

    Returns:
        ``(n,)`` or ``(n, width)`` float64.
    """
    torch = import_torch()
    out = np.empty((n,) if width is None else (n, width), dtype=np.float64)
    with torch.inference_mode():
        for sl in iter_chunks(n, batch_size):
            out[sl] = fn(sl)
    return out


def run_length_sorted(
    fn: Callable[[np.ndarray], np.ndarray],
    coalitions: np.ndarray,
    players,
    batch_size: int,
    *,
    width: int | None = None,
) -> np.ndarray:
    """:func:`run_batched` over coalitions sorted by their number of kept tokens.

    Batches of similar length pad to similar widths, so less of each forward pass is padding; the
    results come back in the order of ``coalitions``.

    Args:
        fn: maps an ``(rows, n)`` bool block of coalitions to ``(rows,)`` or ``(rows, width)``.
        coalitions: ``(m, n)`` bool.
        players: the :class:`~shapiq_spex.text.TextPlayers` whose ``token_mask`` counts tokens.
        batch_size: coalitions per call.
        width: ``None`` for 1-D results, else the width of 2-D results.

    Returns:
        ``(m,)`` or ``(m, width)`` float64.
    """
    order = np.argsort(players.token_mask(coalitions).sum(axis=1), kind="stable")
    ordered = coalitions[order]
    out = np.empty((coalitions.shape[0],) if width is None else (coalitions.shape[0], width))
    out[order] = run_batched(lambda sl: fn(ordered[sl]), ordered.shape[0], batch_size, width=width)
    return out


#: Scores of class logits (see :func:`score_logits`).
OUTPUTS = ("logit", "log_prob", "prob", "logit_margin")


def as_float64(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float64, moved to the CPU first on Apple's MPS (which has no float64).

    On the CPU and CUDA this is ``tensor.double()``, on the tensor's own device.
    """
    if tensor.device.type == "mps":
        tensor = tensor.cpu()
    return tensor.double()


# float64 entries one logsumexp chunk may hold (256 MB): a whole batch of (rows, T, vocab) logits
# in float64 would double the forward pass's largest tensor
_LSE_CHUNK_ENTRIES = 1 << 25


def target_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[..., target]`` in float64, ``(rows, T)`` from ``(rows, T, vocab)``.

    A float32 log-softmax over a large vocabulary is off by about 1e-5 per token (its sum of
    exponentials rounds), which a sum or mean over tokens carries into every value; the target
    logits are gathered as they are and the log-normalizer is computed in float64, a chunk of rows
    at a time (on the CPU for MPS tensors, see :func:`as_float64`).
    """
    torch = import_torch()
    picked = as_float64(logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1))
    lse = torch.empty_like(picked)
    rows = max(1, _LSE_CHUNK_ENTRIES // max(1, logits.shape[1] * logits.shape[2]))
    for start in range(0, logits.shape[0], rows):
        lse[start : start + rows] = torch.logsumexp(as_float64(logits[start : start + rows]), -1)
    return picked - lse


def score_logits(logits: torch.Tensor, target, output: str) -> np.ndarray:
    """Score the target class of each row of a logits matrix.

    Args:
        logits: ``(b, C)`` logits (any float dtype; scored in float64).
        target: an int class or a ``(b,)`` int tensor of classes.
        output: ``"logit"`` (``z_t``), ``"log_prob"`` (``log softmax(z)_t``), ``"prob"``
            (``softmax(z)_t``) or ``"logit_margin"`` (``z_t - max_{j != t} z_j``).

    Returns:
        ``(b,)`` float64 scores.
    """
    torch = import_torch()
    z = as_float64(logits)
    b = z.shape[0]
    if isinstance(target, int):
        target = torch.full((b,), target, dtype=torch.long, device=z.device)
    else:
        target = torch.as_tensor(target, device=z.device)
    rows = torch.arange(b, device=z.device)
    if output == "logit":
        out = z[rows, target]
    elif output == "log_prob":
        out = torch.log_softmax(z, dim=-1)[rows, target]
    elif output == "prob":
        out = torch.softmax(z, dim=-1)[rows, target]
    elif output == "logit_margin":
        others = z.clone()
        others[rows, target] = -torch.inf
        out = z[rows, target] - others.max(dim=-1).values
    else:
        msg = f"The 'output' parameter must be one of {OUTPUTS}. Got {output!r}."
        raise InvalidParameterError(msg)
    return out.cpu().numpy()


def resolve_class(label, n_classes: int, config=None, *, name: str = "target_class") -> int:
    """Turn a class index or label name into a class index in ``[0, n_classes)``.

    Raises:
        InvalidParameterError: an index out of range, an unknown label name, or another type.
    """
    if isinstance(label, str):
        label2id = dict(getattr(config, "label2id", None) or {})
        if label not in label2id:
            msg = (
                f"The '{name}' parameter {label!r} is not a label of the model: {sorted(label2id)}."
            )
            raise InvalidParameterError(msg)
        label = label2id[label]
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        msg = f"The '{name}' parameter must be a class index or label name. Got {label!r}."
        raise InvalidParameterError(msg)
    if not 0 <= int(label) < n_classes:
        msg = f"The '{name}' parameter must be in [0, {n_classes}). Got {label}."
        raise InvalidParameterError(msg)
    return int(label)

"""Attention-head game: players are the attention heads ``(layer, head)`` of a transformer.

A coalition is the set of heads kept; every other player head is ablated by zeroing its slice of
the input of the attention output projection (``o_proj`` in Llama-like models, ``c_proj`` in
GPT-2, ``attention.output.dense`` in BERT-like models), i.e. the head's contribution to the
residual stream is removed, through a forward pre-hook that multiplies the ``(b, T, heads *
head_dim)`` input by the coalition's 0/1 head mask. Hooks exist only while the game evaluates.

``v(S)`` is a task metric averaged over a small batch of inputs: the log-probability,
probability, logit or logit margin of each input's label (class label for a classifier; next
token after the input for a causal LM), the accuracy (the fraction of inputs whose label is the
argmax class or argmax next token), or for causal LMs the mean token log-likelihood of the
inputs (``"sequence_log_prob"``). Many coalitions run in one forward pass: the input batch is
repeated once per coalition and each row gets its coalition's head mask.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
from shapiq import Game

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.games._identity import game_identity, model_identity, tokenizer_identity
from shapiq_spex.games._torch import (
    BUILTIN_MODELS,
    OUTPUTS,
    as_float64,
    as_tensor,
    check_batch_size,
    check_choice,
    import_torch,
    import_transformers,
    iter_chunks,
    load_model_and_tokenizer,
    max_sequence_length,
    model_device,
    output_logits,
    resolve_class,
    score_logits,
    target_log_probs,
)
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.masking import pack_tokens

__all__ = ["ATTENTION_OUTPUT_SUFFIXES", "AttentionHeadGame", "find_attention_outputs"]

Metric = Literal["log_prob", "prob", "logit", "logit_margin", "accuracy", "sequence_log_prob"]
_METRICS = (*OUTPUTS, "accuracy", "sequence_log_prob")

#: Module-name endings of the attention output projections, tried in this order.
ATTENTION_OUTPUT_SUFFIXES = (
    "self_attn.o_proj",  # Llama, Mistral, Qwen, Gemma, Phi-3
    "attn.c_proj",  # GPT-2
    "attention.output.dense",  # BERT, RoBERTa, ELECTRA, MiniLM
    "attention.out_lin",  # DistilBERT
    "self_attn.out_proj",  # OPT, BART
    "attention.out_proj",  # GPT-Neo
    "attention.dense",  # GPT-NeoX, Pythia
)


def _in_features(module) -> int:
    if hasattr(module, "in_features"):
        return int(module.in_features)
    if hasattr(module, "nx"):  # transformers Conv1D (GPT-2)
        return int(module.nx)
    msg = (
        f"Cannot read the input width of the attention output module {type(module).__name__}; "
        "it must be an nn.Linear or a transformers Conv1D."
    )
    raise InvalidParameterError(msg)


def find_attention_outputs(model, names: Sequence[str] | None = None) -> list[tuple[str, object]]:
    """The attention output projection of every layer, in layer order.

    Args:
        model: a transformer.
        names: explicit module names (one per layer); default: found by
            :data:`ATTENTION_OUTPUT_SUFFIXES`.

    Returns:
        ``[(name, module), ...]``, one per layer.

    Raises:
        InvalidParameterError: unknown names, or no suffix matching one module per layer.
    """
    modules = dict(model.named_modules())
    if names is not None:
        missing = [name for name in names if name not in modules]
        if missing or not names:
            msg = f"The 'attention_output_modules' parameter names unknown modules: {missing}."
            raise InvalidParameterError(msg)
        return [(name, modules[name]) for name in names]
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for suffix in ATTENTION_OUTPUT_SUFFIXES:
        found = [(n, m) for n, m in modules.items() if n == suffix or n.endswith("." + suffix)]
        if found and (n_layers is None or len(found) == n_layers):
            return found
    msg = (
        "Could not find one attention output projection per layer (tried module names ending "
        f"in {ATTENTION_OUTPUT_SUFFIXES}); pass attention_output_modules=[...] with one module "
        "name per layer."
    )
    raise InvalidParameterError(msg)


def _infer_task(model) -> str:
    if isinstance(model, str):
        if model in BUILTIN_MODELS:
            return BUILTIN_MODELS[model][0]
        config = import_transformers().AutoConfig.from_pretrained(model)
        for arch in getattr(config, "architectures", None) or []:
            if arch.endswith(("ForCausalLM", "LMHeadModel")):
                return "causal-lm"
            if arch.endswith("ForSequenceClassification"):
                return "sequence-classification"
        msg = (
            f"Cannot tell whether {model!r} is a classifier or a causal LM from its config; pass "
            "task='sequence-classification' or task='causal-lm'."
        )
        raise InvalidParameterError(msg)
    return "sequence-classification"  # only used to pick an AutoModel class for names


class AttentionHeadGame(Game):
    """Explain a task metric of a transformer by its attention heads.

    Attributes:
        heads: ``(n_players, 2)`` int64 ``(layer, head)`` of each player.
        names: player names ``"L{layer}H{head}"``.
        n_layers, n_heads, head_dim: the attention geometry.
        is_causal_lm: whether the model returns per-position logits (scored at the last input
            token) rather than class logits.
        labels: ``(n_inputs,)`` int64 class or next-token ids (``None`` for
            ``"sequence_log_prob"``).
        metric: the metric averaged over the inputs.
        original_model_output: the metric of the unmodified model (no hooks), before centering.
        empty_value: the metric with every player head ablated, before centering.
    """

    def __init__(
        self,
        model,
        tokenizer,
        inputs: str | Sequence[str],
        *,
        labels=None,
        metric: Metric = "log_prob",
        heads: Sequence[tuple[int, int]] | None = None,
        task: Literal["sequence-classification", "causal-lm"] | None = None,
        attention_output_modules: Sequence[str] | None = None,
        batch_size: int = 32,
        device=None,
        dtype=None,
        normalize: bool = False,
        verbose: bool = False,
    ) -> None:
        """Locate the heads, fix the labels and evaluate the unmodified and fully ablated model.

        Args:
            model: a classifier or causal LM: a built-in name (``"minilm-sentiment"``,
                ``"smollm2"``), a Hugging Face name or folder, or a loaded module.
            tokenizer: its fast tokenizer (or a name); ``None`` with a model name.
            inputs: one text or a list of texts (the task batch, kept small).
            labels: per input (or one for all): class indices or label names for a classifier;
                token ids or single-token strings (the next token) for a causal LM. ``None``: the
                unmodified model's prediction for each input.
            metric: ``"log_prob"`` (default), ``"prob"``, ``"logit"``, ``"logit_margin"`` of the
                label, ``"accuracy"`` (fraction of inputs whose label is the argmax class or
                next token; a tie goes to the lowest id, as ``torch.argmax`` breaks it; with
                ``labels=None`` it is the agreement with the unmodified model), or
                ``"sequence_log_prob"`` (causal LM: mean log-likelihood of the inputs' tokens;
                labels must be ``None``).
            heads: the ``(layer, head)`` players; default every head of every layer.
            task: how to load a Hugging Face name; default read from its config.
            attention_output_modules: module names of the attention output projections (one per
                layer), when the automatic search fails.
            batch_size: sequences per forward pass (``batch_size // n_inputs`` coalitions).
            device: device for a model loaded by name, or to move a given model to.
            dtype: floating dtype to run the model in; default unchanged.
            normalize: center the game on the empty coalition.
            verbose: shapiq's one-by-one progress bar (slow; leave ``False``).
        """
        self.metric = check_choice(metric, _METRICS, name="metric")
        self.batch_size = check_batch_size(batch_size)
        if task is None:
            task = _infer_task(model)
        check_choice(task, ("sequence-classification", "causal-lm"), name="task")
        self.model, self.tokenizer = load_model_and_tokenizer(
            model, tokenizer, task=task, device=device, dtype=dtype
        )
        self.device = model_device(self.model)
        torch = import_torch()

        # ---- geometry and players
        self._modules = find_attention_outputs(self.model, attention_output_modules)
        self.n_layers = len(self._modules)
        n_heads = getattr(getattr(self.model, "config", None), "num_attention_heads", None)
        if not isinstance(n_heads, int) or n_heads < 1:
            msg = "The model config must define num_attention_heads."
            raise InvalidParameterError(msg)
        self.n_heads = n_heads
        width = _in_features(self._modules[0][1])
        if width % n_heads:
            msg = f"The attention output width {width} is not a multiple of {n_heads} heads."
            raise InvalidParameterError(msg)
        self.head_dim = width // n_heads
        self.heads = self._resolve_heads(heads)
        self.names = [f"L{layer}H{head}" for layer, head in self.heads.tolist()]

        # ---- inputs
        if isinstance(inputs, str):
            inputs = [inputs]
        if not inputs or not all(isinstance(t, str) and t.strip() for t in inputs):
            msg = "The 'inputs' parameter must be a non-empty text or list of non-empty texts."
            raise InvalidParameterError(msg)
        self.inputs = list(inputs)
        encoded = self.tokenizer(self.inputs, truncation=False)["input_ids"]
        lengths = np.array([len(ids) for ids in encoded])
        if np.any(lengths == 0):
            msg = "Some 'inputs' tokenize to no tokens."
            raise InvalidParameterError(msg)
        limit = max_sequence_length(self.model)
        if limit is not None and lengths.max() > limit:
            msg = (
                f"An input has {lengths.max()} tokens, more than the {limit} positions of the "
                "model; shorten it (this game does not truncate)."
            )
            raise InvalidParameterError(msg)
        flat = np.zeros((len(encoded), int(lengths.max())), dtype=np.int64)
        keep = np.arange(flat.shape[1])[None, :] < lengths[:, None]
        flat[keep] = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in encoded])

        with torch.inference_mode():
            probe = output_logits(
                self.model(input_ids=as_tensor(flat[:1, : lengths[0]], self.device))
            )
        self.is_causal_lm = probe.ndim == 3
        if self.metric == "sequence_log_prob" and not self.is_causal_lm:
            msg = "metric='sequence_log_prob' needs a causal LM; this model returns class logits."
            raise InvalidParameterError(msg)
        pad = self.tokenizer.pad_token_id
        if pad is None:  # padding is masked out: any id works
            pad = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        self._batch = pack_tokens(flat, keep, int(pad), "left" if self.is_causal_lm else "right")

        # ---- labels and reference values
        with torch.inference_mode():
            logits = self._logits(self._batch)
        self.labels = self._resolve_labels(labels, logits)
        with torch.inference_mode():
            self.original_model_output = float(self._metric(logits, 1)[0])
        self.empty_value = float(self.value_function(np.zeros((1, len(self.heads)), dtype=bool))[0])
        super().__init__(
            len(self.heads),
            normalize=normalize,
            normalization_value=self.empty_value if normalize else None,
            verbose=verbose,
        )

    # ------------------------------------------------------------------ set-up helpers
    def _resolve_heads(self, heads) -> np.ndarray:
        if heads is None:
            grid = np.stack(
                np.meshgrid(np.arange(self.n_layers), np.arange(self.n_heads), indexing="ij"), -1
            )
            return grid.reshape(-1, 2).astype(np.int64)
        arr = np.asarray(heads)
        if (
            arr.ndim != 2
            or arr.shape[1] != 2
            or arr.shape[0] == 0
            or not np.issubdtype(arr.dtype, np.integer)
        ):
            msg = (
                "The 'heads' parameter must be a non-empty list of (layer, head) int pairs. "
                f"Got {heads!r:.80}."
            )
            raise InvalidParameterError(msg)
        bad = (
            (arr[:, 0] < 0)
            | (arr[:, 0] >= self.n_layers)
            | (arr[:, 1] < 0)
            | (arr[:, 1] >= self.n_heads)
        )
        if np.any(bad):
            msg = (
                f"The 'heads' parameter holds pairs outside layers [0, {self.n_layers}) x heads "
                f"[0, {self.n_heads}): {arr[bad].tolist()[:5]}."
            )
            raise InvalidParameterError(msg)
        if len({tuple(p) for p in arr.tolist()}) != arr.shape[0]:
            msg = "The 'heads' parameter holds duplicate (layer, head) pairs."
            raise InvalidParameterError(msg)
        return arr.astype(np.int64)

    def _resolve_labels(self, labels, logits):
        m = len(self.inputs)
        if self.metric == "sequence_log_prob":
            if labels is not None:
                msg = "The 'labels' parameter must be None with metric='sequence_log_prob'."
                raise InvalidParameterError(msg)
            return None
        scores = logits[:, -1, :] if self.is_causal_lm else logits
        n_classes = scores.shape[-1]
        if labels is None:
            return scores.argmax(dim=-1).cpu().numpy().astype(np.int64)
        if isinstance(labels, str | int | np.integer):
            labels = [labels] * m
        labels = list(labels)
        if len(labels) != m:
            msg = f"The 'labels' parameter must have one label per input ({m}). Got {len(labels)}."
            raise InvalidParameterError(msg)
        out = []
        for label in labels:
            if self.is_causal_lm and isinstance(label, str):
                ids = self.tokenizer(label, add_special_tokens=False)["input_ids"]
                if len(ids) != 1:
                    msg = (
                        f"The label {label!r} must be a single token of the tokenizer (got "
                        f"{len(ids)} tokens); pass its token id or another string."
                    )
                    raise InvalidParameterError(msg)
                label = ids[0]
            out.append(
                resolve_class(label, n_classes, getattr(self.model, "config", None), name="labels")
            )
        return np.asarray(out, dtype=np.int64)

    # ------------------------------------------------------------------ evaluation
    @contextlib.contextmanager
    def _hooks(self, state: dict):
        handles = []

        def make(layer: int):
            def hook(module, args):
                mask = state.get(layer)
                if mask is None:
                    return None
                x = args[0]
                return (x * mask[:, None, :].to(x.dtype), *args[1:])

            return hook

        try:
            for layer, (_, module) in enumerate(self._modules):
                handles.append(module.register_forward_pre_hook(make(layer)))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _logits(self, batch):
        ids = as_tensor(batch.input_ids, self.device)
        mask = as_tensor(batch.attention_mask, self.device)
        kwargs = {"attention_mask": mask}
        if self.is_causal_lm:
            kwargs["position_ids"] = as_tensor(batch.position_ids(), self.device)
            kwargs["use_cache"] = False
        return output_logits(self.model(input_ids=ids, **kwargs))

    def _metric(self, logits, k: int) -> np.ndarray:
        """Mean metric over the inputs for each of ``k`` repeats of the input batch."""
        torch = import_torch()
        m = len(self.inputs)
        if self.metric == "sequence_log_prob":
            attn = as_tensor(np.tile(self._batch.attention_mask, (k, 1)), logits.device)
            ids = as_tensor(np.tile(self._batch.input_ids, (k, 1)), logits.device)
            picked = target_log_probs(logits[:, :-1], ids[:, 1:])
            valid = as_float64(attn[:, 1:] * attn[:, :-1])
            per_input = (picked * valid).sum(1) / valid.sum(1).clamp_min(1.0)
            scores = per_input.cpu().numpy()
        else:
            scores_in = logits[:, -1, :] if self.is_causal_lm else logits
            target = torch.as_tensor(np.tile(self.labels, k), device=logits.device)
            if self.metric == "accuracy":
                scores = as_float64(scores_in.argmax(dim=-1) == target).cpu().numpy()
            else:
                scores = score_logits(scores_in, target, self.metric)
        return scores.reshape(k, m).mean(axis=1)

    def cache_identity(self) -> dict:
        """What determines this game's values, for the cache of a :class:`~shapiq_spex.QueryEngine`.

        Returns:
            A JSON-serialisable dict: ``game``, ``value_semantics``, ``model`` (class, weights and
            config SHA-256, dtype), ``tokenizer``, ``inputs``, ``labels``, ``metric``, ``heads``,
            ``attention_modules`` (the hooked module names), ``causal_lm`` and ``normalized``.
        """
        return game_identity(
            self,
            model=model_identity(self.model),
            tokenizer=tokenizer_identity(self.tokenizer),
            inputs=list(self.inputs),
            labels=None if self.labels is None else np.asarray(self.labels).tolist(),
            metric=self.metric,
            heads=self.heads.tolist(),
            attention_modules=[name for name, _ in self._modules],
            causal_lm=bool(self.is_causal_lm),
            normalized=bool(self.normalize),
        )

    def value_function(self, coalitions) -> np.ndarray:
        """The metric with only the kept heads, for a batch of coalitions.

        Args:
            coalitions: ``(c, n_players)`` bool (``True`` = head kept).

        Returns:
            ``(c,)`` float64 metric values, not centered.
        """
        torch = import_torch()
        x = check_coalitions(coalitions, len(self.heads))
        m = len(self.inputs)
        per_call = max(1, self.batch_size // m)
        dtype = next(self.model.parameters()).dtype
        out = np.empty(x.shape[0], dtype=np.float64)
        state: dict = {}
        with torch.inference_mode(), self._hooks(state):
            for sl in iter_chunks(x.shape[0], per_call):
                k = sl.stop - sl.start
                full = np.ones((k, self.n_layers, self.n_heads), dtype=bool)
                full[:, self.heads[:, 0], self.heads[:, 1]] = x[sl]
                state.clear()
                for layer in np.flatnonzero(~full.all(axis=(0, 2))):
                    rows = np.repeat(full[:, layer, :], m, axis=0)  # (k * m, H)
                    mask = np.repeat(rows, self.head_dim, axis=1)  # (k * m, H * head_dim)
                    state[int(layer)] = torch.as_tensor(mask, dtype=dtype, device=self.device)
                batch = self._batch
                rep = type(batch)(
                    np.tile(batch.input_ids, (k, 1)),
                    np.tile(batch.attention_mask, (k, 1)),
                    np.tile(batch.lengths, k),
                    batch.padding_side,
                )
                out[sl] = self._metric(self._logits(rep), k)
        return out

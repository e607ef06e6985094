"""llama-cpp-python's OpenAI-compatible server with vectorized, aligned log-probabilities.

Run as ``python -m shapiq_spex.endpoint._llama_logprobs [llama_cpp.server arguments]``: it is
``python -m llama_cpp.server`` (the same FastAPI app, llama.cpp engine, tokenizer, chat
templates and sampling) with one change to how a completion's log-probabilities are written
into the answer. Stock llama-cpp-python 0.3.x (checked on 0.3.36):

* sorts the whole vocabulary in Python for every listed token (``sorted(zip(row, range(V)))``
  over numpy scalars: about 0.15-0.2 s per prompt token for SmolLM2's 49,152 tokens, so one
  scored 80-token prompt takes 15 s of CPU for a model whose forward pass takes milliseconds);
* with ``echo=True`` and a prompt that does not start with the BOS token, pairs each token with
  the distribution *after* it (the values are shifted by one position), and drops the first
  token's value and any later BOS-id token from the list.

Here the model runs as in the stock server (the stock ``_create_completion`` generates the
text, finish reason and usage, without log-probabilities), and the log-probabilities are then
computed from the same logits rows with the stock ``Llama.logits_to_logprobs``: token ``j`` gets
``log_softmax(logits[j - 1])[token_j]``, the OpenAI convention (the first token ``None``), every
token is listed, and the top-k entries come from ``np.argpartition``. Each request is also
evaluated from an empty cache, so a value does not depend on which request came before it (the
stock server reuses the KV cache of a shared prefix, which changes the last bits). On prompts
that start with the BOS token the values equal the stock server's (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["aligned_llama_class", "main"]


def aligned_llama_class():
    """The ``llama_cpp.Llama`` subclass with vectorized, aligned log-probabilities."""
    import llama_cpp

    to_logprobs = llama_cpp.Llama.logits_to_logprobs  # the stock log-softmax

    class AlignedLogprobsLlama(llama_cpp.Llama):
        """``llama_cpp.Llama`` computing completion log-probabilities vectorized and aligned."""

        def generate(self, tokens, *args: Any, **kwargs: Any):
            self._shapiq_generated = []
            for token in super().generate(tokens, *args, **kwargs):
                self._shapiq_generated.append(int(token))
                yield token

        def _create_completion(self, prompt, *args: Any, **kwargs: Any):
            self.reset()  # a fresh evaluation per request: values independent of the history
            logprobs = kwargs.get("logprobs")
            if logprobs is None or kwargs.get("stream", False) or args:
                yield from super()._create_completion(prompt, *args, **kwargs)
                return
            echo = bool(kwargs.get("echo", False))
            result = None
            for chunk in super()._create_completion(prompt, **{**kwargs, "logprobs": None}):
                result = chunk
            generated = self._shapiq_generated
            # evaluated: the prompt and every generated token but the last
            n_prompt = self.n_tokens - max(len(generated) - 1, 0)
            prompt_tokens = [int(t) for t in self._input_ids[:n_prompt]]
            vocab = self._model.vocab
            completion = list(generated)
            if completion and llama_cpp.llama_vocab_is_eog(vocab, completion[-1]):
                completion.pop()
            seq = prompt_tokens + completion
            start = 0 if echo else n_prompt
            scored = np.arange(max(start, 1), len(seq))
            rows = to_logprobs(self._scores[scored - 1]) if scored.size else None
            k = int(logprobs)
            strs = [
                self.detokenize([t], prev_tokens=seq[:j]).decode("utf-8", errors="ignore")
                for j, t in enumerate(seq)
                if j >= start
            ]
            token_logprobs: list[float | None] = []
            top_logprobs: list[dict[str, float] | None] = []
            for j in range(start, len(seq)):
                if j == 0:
                    token_logprobs.append(None)
                    top_logprobs.append(None)
                    continue
                row = rows[j - max(start, 1)]
                value = float(row[seq[j]])
                top: dict[str, float] = {}
                if k > 0:
                    best = np.argpartition(-row, min(k, row.size) - 1)[:k]
                    for i in best[np.argsort(-row[best], kind="stable")]:
                        text = self.detokenize([int(i)], prev_tokens=seq[:j])
                        top[text.decode("utf-8", errors="ignore")] = float(row[i])
                top[strs[j - start]] = value
                token_logprobs.append(value)
                top_logprobs.append(top)
            base = 0 if echo else len(prompt) if isinstance(prompt, str) else 0
            offsets = (
                base + np.concatenate([[0], np.cumsum([len(s) for s in strs])[:-1]])
            ).tolist()
            result["choices"][0]["logprobs"] = {
                "tokens": strs,
                "text_offset": [int(o) for o in offsets],
                "token_logprobs": token_logprobs,
                "top_logprobs": top_logprobs,
            }
            yield result

    return AlignedLogprobsLlama


def main() -> None:
    """Serve like ``python -m llama_cpp.server`` with :class:`AlignedLogprobsLlama` models."""
    import llama_cpp

    llama_cpp.Llama = aligned_llama_class()  # the server builds its models through this name
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()

"""Masked prompt strings for endpoints: players and masking on text, with or without a tokenizer.

An endpoint takes text, so every coalition becomes a string. Two ways to build it:

* :class:`TokenTextMasker` (a local tokenizer of the served model is given): players, alignment
  and masking are exactly those of the in-process games (:class:`~shapiq_spex.text.TextPlayers`
  and :class:`~shapiq_spex.text.TextMasker` on token ids, ``"token"`` players and
  ``"mask_token"`` included), and the masked ids are decoded back to text. The server then
  tokenizes that text; for the same tokenizer it gets the in-process model's ids back, except
  where the tokenizer merges across a removed player (see
  :meth:`TokenTextMasker.retokenizes_exactly`; the games count such prompts from the server's
  token numbers).
* :class:`SpanTextMasker` (no tokenizer, e.g. an API model): ``"word"`` / ``"sentence"`` /
  custom-span players on characters. An absent player is cut out together with the one space
  right before it (the space belongs to the next word, as in BPE's ``Ġword`` and
  SentencePiece's ``▁word`` tokens; newlines and further spaces stay), and
  with a replacement strategy the replacement string takes its place (write its leading space,
  e.g. ``" ..."``, as for the in-process games). ``"token"`` players and ``"mask_token"`` need a
  tokenizer.
"""

from __future__ import annotations

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError
from shapiq_spex.spectra.spectrum import check_coalitions
from shapiq_spex.text.masking import TextMasker
from shapiq_spex.text.players import TextPlayers, _check_spans, sentence_spans, word_spans

__all__ = ["SpanTextMasker", "TokenTextMasker"]


class SpanTextMasker:
    """Players as character spans of a text, masked on the text itself (no tokenizer).

    Attributes:
        text: the full prompt text.
        region: ``(start, end)`` of the explained part; players lie inside it.
        spans: ``(n_players, 2)`` int64 character spans into ``text``.
        names: the player strings.
        granularity: ``"word"``, ``"sentence"`` or ``"custom"``.
        strategy: ``"remove"`` or a replacement string.
    """

    def __init__(self, text: str, region: tuple[int, int], players, strategy: str) -> None:
        """Segment the region and prepare the pieces of the masked texts.

        Raises:
            InvalidParameterError: ``"token"`` players or ``"mask_token"`` (these need a
                tokenizer), an unknown granularity, bad spans, an empty strategy or no player.
        """
        self.text, self.region = text, (int(region[0]), int(region[1]))
        if isinstance(players, str):
            if players == "token":
                msg = (
                    "The 'players' parameter is 'token', which needs the served model's tokenizer:"
                    " pass tokenizer= (a Hugging Face name or folder), or use 'word' or "
                    "'sentence' players."
                )
                raise InvalidParameterError(msg)
            if players not in ("word", "sentence"):
                msg = (
                    "The 'players' parameter must be 'word', 'sentence', 'token' (with a "
                    f"tokenizer) or a sequence of (start, end) spans. Got {players!r}."
                )
                raise InvalidParameterError(msg)
            finder = word_spans if players == "word" else sentence_spans
            spans = finder(text, *self.region)
            self.granularity = players
        else:
            spans = _check_spans(players, text, self.region)
            self.granularity = "custom"
        if spans.shape[0] == 0:
            msg = f"The context has no {self.granularity} players; explain a text with words in it."
            raise InvalidParameterError(msg)
        if not isinstance(strategy, str) or strategy == "":
            msg = (
                "The 'mask_strategy' parameter must be 'remove' or a non-empty replacement "
                f"string. Got {strategy!r}."
            )
            raise InvalidParameterError(msg)
        if strategy == "mask_token":
            msg = (
                "The 'mask_strategy' parameter 'mask_token' needs the served model's tokenizer "
                "(pass tokenizer=); without one use 'remove' or a replacement string such as "
                "' ...'."
            )
            raise InvalidParameterError(msg)
        self.strategy = strategy
        self.spans = spans.astype(np.int64)
        self.names = [text[s:e] for s, e in self.spans.tolist()]
        # a player owns the one space right before it (BPE's "Ġword", SentencePiece's "▁word");
        # newlines and further spaces are tokens of their own and stay
        starts = self.spans[:, 0]
        before = np.array([s > 0 and text[s - 1] == " " for s in starts.tolist()], dtype=bool)
        before[1:] &= starts[1:] - 1 >= self.spans[:-1, 1]
        cuts = starts - before.astype(np.int64)
        ends = self.spans[:, 1]
        starts_of_gaps = np.concatenate([[0], ends])
        ends_of_gaps = np.concatenate([cuts, [len(text)]])
        self._gaps = [text[a:b] for a, b in zip(starts_of_gaps, ends_of_gaps, strict=True)]
        self._pieces = [text[a:b] for a, b in zip(cuts, ends, strict=True)]
        self._absent = "" if strategy == "remove" else strategy

    @property
    def n_players(self) -> int:
        """Number of players."""
        return int(self.spans.shape[0])

    def texts(self, coalitions) -> list[str]:
        """The masked texts of a batch of coalitions.

        Args:
            coalitions: ``(m, n_players)`` bool (``True`` = player kept).

        Returns:
            ``m`` strings.
        """
        x = check_coalitions(coalitions, self.n_players)
        gaps, pieces, absent = self._gaps, self._pieces, self._absent
        out = []
        for row in x.tolist():
            parts = [gaps[0]]
            for keep, piece, gap in zip(row, pieces, gaps[1:], strict=True):
                parts.append(piece if keep else absent)
                parts.append(gap)
            out.append("".join(parts))
        return out

    def identity(self) -> dict:
        """What determines the masked texts (for cache identities)."""
        return {
            "kind": "characters",
            "granularity": self.granularity,
            "spans": self.spans.tolist(),
            "mask_strategy": self.strategy,
        }


class TokenTextMasker:
    """The in-process games' token-level players and masking, decoded back to text.

    Attributes:
        players: the :class:`~shapiq_spex.text.TextPlayers` (tokenized without adding special
            tokens: the server adds its own).
        masker: the :class:`~shapiq_spex.text.TextMasker`.
        spans, names, granularity, strategy: as for :class:`SpanTextMasker`.
    """

    def __init__(
        self, text: str, region: tuple[int, int], players, strategy: str, tokenizer
    ) -> None:
        """Tokenize the text once and bind the masking strategy.

        Raises:
            InvalidParameterError: see :class:`~shapiq_spex.text.TextPlayers` and
                :class:`~shapiq_spex.text.TextMasker`.
        """
        self.text, self.region = text, (int(region[0]), int(region[1]))
        self.tokenizer = tokenizer
        self.players = TextPlayers(
            text, tokenizer, players, region=region, add_special_tokens=False
        )
        self.masker = TextMasker(self.players, strategy)
        self.strategy = strategy
        self.spans = self.players.spans
        self.names = self.players.names
        self.granularity = self.players.granularity

    @property
    def n_players(self) -> int:
        """Number of players."""
        return self.players.n_players

    def token_counts(self, coalitions) -> np.ndarray:
        """``(m,)`` number of tokens of each masked prompt (the in-process model's input)."""
        return self.masker(coalitions).lengths

    def texts(self, coalitions) -> list[str]:
        """The masked token ids of a batch of coalitions, decoded (special tokens kept)."""
        batch = self.masker(coalitions, padding_side="right")
        rows = [
            row[: int(n)].tolist() for row, n in zip(batch.input_ids, batch.lengths, strict=True)
        ]
        return self.tokenizer.batch_decode(
            rows, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def retokenizes_exactly(self, coalitions) -> np.ndarray:
        """Whether each masked text tokenizes back to the in-process model's token ids.

        Dropping a player's tokens can leave text whose tokenization merges across the gap (with
        SmolLM2's BPE, ``?`` and ``.`` left side by side become one token ``?.``); a server given
        that text sees other tokens than the in-process model (about 1% of random coalitions of a
        23-word riddle prompt).

        Returns:
            ``(m,)`` bool.
        """
        x = check_coalitions(coalitions, self.n_players)
        batch = self.masker(x, padding_side="right")
        encoded = self.tokenizer(self.texts(x), add_special_tokens=False)["input_ids"]
        return np.array(
            [
                list(ids) == row[: int(n)].tolist()
                for ids, row, n in zip(encoded, batch.input_ids, batch.lengths, strict=True)
            ],
            dtype=bool,
        )

    def identity(self) -> dict:
        """What determines the masked texts (for cache identities)."""
        return {
            "kind": "tokens",
            "tokenizer": getattr(self.tokenizer, "name_or_path", type(self.tokenizer).__name__),
            "vocab_size": len(self.tokenizer),
            "granularity": self.granularity,
            "spans": self.spans.tolist(),
            "token_ids": self.players.input_ids.tolist(),
            "mask_strategy": self.strategy,
        }

"""A trained text run (MaskGAN / MaskMLE) loaded for use: fill the blanks of a sentence, draw samples.

`api.load(run)` returns a :class:`LoadedTextModel` for runs on text data (the modality is read from the
checkpoint's data info, never from the method's name).

In-filling: the text is tokenised as the training data; each ``___`` is one missing word; words outside the run's
vocabulary become ``<unk>`` (a warning says which); ``<eos>`` closes the row. Unconditional samples mask every
position of a row whose length is drawn from the training data's row lengths (the last token ``<eos>`` given):
MaskGAN generates text by filling a fully masked sequence. Both fill blanks with words only: ``<eos>`` and ``<unk>``
are never chosen (the renormalised distribution over the other words is sampled).
"""
from __future__ import annotations

import logging
import re
from typing import List, Tuple

import torch

from .data.text import BLANK, EOS_ID, MASK_ID, PAD_ID, UNK_ID, Vocab, detokenize, tokenize
from .errors import DataError, GanforgeError

log = logging.getLogger(__name__)
WORDS_ONLY = (EOS_ID, UNK_ID)  # a blank is a word: never the end of the text, never "unknown"


class LoadedTextModel:
    def __init__(self, generator, config, info, checkpoint: str, device):
        self.generator = generator.eval().requires_grad_(False)
        self.config, self.info, self.checkpoint, self.device = config, info, checkpoint, device
        self.vocab = Vocab(info.vocab)
        self.seq_len = int(info.shape[0])

    def latents(self, *args, **kwargs):
        raise GanforgeError("a text run has no latent space: use `ganforge infill` or `ganforge sample`")

    generate = latents

    # -- in-filling -------------------------------------------------------------------------------------------------
    def parse(self, text: str) -> Tuple[torch.Tensor, torch.Tensor, List[str]]:
        """A text with ``___`` blanks -> (token row 1×L, missing 1×L, unknown words replaced by <unk>)."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise DataError("the text holds bytes that are not UTF-8; pass UTF-8 text") from None
        pieces = re.split(r"_{3,}", text)
        ids, missing, unknown = [], [], []
        for k, piece in enumerate(pieces):
            words = tokenize(piece)
            for w in words:
                i = self.vocab.index.get(w, UNK_ID)
                unknown += [w] if i == UNK_ID else []
                ids.append(i)
                missing.append(False)
            if k < len(pieces) - 1:
                ids.append(MASK_ID)
                missing.append(True)
        n_words = sum(not m for m in missing)
        if not ids:
            raise DataError(f"the text is empty: give words and {BLANK} blanks, e.g. \"the cat {BLANK} on the mat\"")
        if not any(missing):
            raise DataError(f"the text has no blank to fill: mark each missing word with {BLANK}")
        if n_words and len(unknown) == n_words:
            raise DataError(f"none of the words of the text is in this run's vocabulary ({len(self.vocab)} words), "
                            f"e.g. {unknown[0]!r}")
        if len(ids) + 1 > self.seq_len:
            raise DataError(f"the text has {len(ids)} words and blanks; this run fills sequences of at most "
                            f"{self.seq_len - 1}")
        if unknown:
            log.warning("not in the vocabulary, read as <unk>: %s", ", ".join(sorted(set(unknown))))
        ids.append(EOS_ID)
        missing.append(False)
        pad = self.seq_len - len(ids)
        row = torch.tensor([ids + [PAD_ID] * pad], dtype=torch.long)
        miss = torch.tensor([missing + [False] * pad])
        return row, miss, sorted(set(unknown))

    @torch.no_grad()
    def infill(self, text: str, n: int = 1, seed: int = 0, greedy: bool = False) -> List[str]:
        """n fillings of the blanks of `text` (sampled with a fixed seed, or the greedy one); filled words in
        [brackets]."""
        row, miss, _ = self.parse(text)
        tokens, missing = row.expand(n, -1).to(self.device), miss.expand(n, -1).to(self.device)
        filled, _ = self.generator.fill(tokens, missing, generator=self._rng(seed), greedy=greedy, ban=WORDS_ONLY)
        return [self._show(f, m) for f, m in zip(filled.cpu().tolist(), missing.cpu().tolist())]

    def _show(self, row, miss) -> str:
        words = []
        for i, m in zip(row, miss):
            if i == EOS_ID and not m:
                break
            if i == PAD_ID:
                continue
            w = self.vocab.words[i]
            words.append(f"[{w}]" if m else w)
        return detokenize(words)

    def _rng(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(int(seed))

    # -- unconditional samples ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_tokens(self, n: int, seed: int = 0) -> torch.Tensor:
        """n rows generated from fully masked sequences (token ids N×L, <eos>-terminated)."""
        probs = self.generator.length_probs.float().cpu()
        if probs.sum() <= 0:
            probs = torch.zeros(self.seq_len + 1)
            probs[self.seq_len] = 1.0
        g = torch.Generator().manual_seed(int(seed))
        lengths = torch.multinomial(probs, n, replacement=True, generator=g).clamp(min=2)
        pos = torch.arange(self.seq_len)[None]
        tokens = torch.where(pos == lengths[:, None] - 1, EOS_ID, PAD_ID).long()
        missing = pos < lengths[:, None] - 1
        filled, _ = self.generator.fill(tokens.to(self.device), missing.to(self.device), generator=self._rng(seed),
                                        ban=WORDS_ONLY)
        return filled.cpu()

    def sample_text(self, n: int, seed: int = 0) -> List[str]:
        """n unconditional samples as text lines."""
        return [detokenize(self.vocab.decode(r)) for r in self.sample_tokens(n, seed).tolist()]


def load_text(ckpt: str, meta: dict, config, info, device, generator_state) -> LoadedTextModel:
    from .errors import CheckpointError
    from .models import build_generator

    generator = build_generator(config.generator, info)
    try:
        generator.load_state_dict(generator_state)
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt}: the weights do not fit a {config.generator.name!r} generator "
                              f"({str(e).splitlines()[0]})") from None
    return LoadedTextModel(generator.to(device), config, info, ckpt, device)


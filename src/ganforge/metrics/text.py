"""Text scores of MaskGAN (Fedus et al., ICLR 2018, §5): perplexity of generated text under a language model
trained on real text, the share of unique n-grams (the paper's mode-dropping measure, n = 2..4), and — for the
grammar corpus, whose likelihood is exact — the log-likelihood of samples and the share that is grammatical.

Sentences are word lists (the words before ``<eos>``); token rows are int64 N×L with per-row lengths. The
reference LM is a small LSTM trained here on the real rows (`train_reference_lm`, seeded, a few hundred steps);
its perplexity is exp(mean negative log-likelihood per token, ``<eos>`` included).
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

EOS_ID, PAD_ID = 2, 0


def unique_ngram_share(sentences: Sequence[Sequence[str]], n: int) -> float:
    """100 · distinct n-grams / all n-grams over the sentences (nan when there is no n-gram)."""
    grams = [tuple(s[i : i + n]) for s in sentences for i in range(len(s) - n + 1)]
    return 100.0 * len(set(grams)) / len(grams) if grams else math.nan


def unique_ngrams(sentences: Sequence[Sequence[str]], ns=(2, 3, 4)) -> Dict[str, float]:
    return {f"unique_{n}gram_pct": unique_ngram_share(sentences, n) for n in ns}


def grammar_scores(sentences: Sequence[Sequence[str]], grammar) -> Dict[str, float]:
    """Share of grammatical sentences and their exact mean log-likelihood (nats) and per-word NLL under `grammar`
    (a :class:`ganforge.data.grammar.PCFG`): the log-likelihood is taken over the grammatical sentences only (it
    is −∞ for the others)."""
    lps = [grammar.log_prob(s) for s in sentences]
    ok = [(lp, len(s)) for lp, s in zip(lps, sentences) if lp > -math.inf]
    share = len(ok) / max(len(sentences), 1)
    mean_lp = sum(lp for lp, _ in ok) / len(ok) if ok else math.nan
    nll_word = -sum(lp for lp, _ in ok) / sum(n for _, n in ok) if ok else math.nan
    return {"grammatical": share, "log_likelihood": mean_lp, "nll_per_word": nll_word}


class ReferenceLM(nn.Module):
    """A one-layer LSTM language model over token rows (input <eos> then the row, predicting each token)."""

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([torch.full_like(tokens[:, :1], EOS_ID), tokens[:, :-1]], dim=1)
        return self.out(self.lstm(self.embed(prev))[0])

    def token_nll(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(sum of NLL over the first `lengths` tokens of each row, number of those tokens) as a 2-vector."""
        nll = F.cross_entropy(self(tokens).transpose(1, 2), tokens, reduction="none")
        valid = torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]
        return torch.stack([(nll * valid).sum(), valid.sum().to(nll.dtype)])


def train_reference_lm(tokens: torch.Tensor, lengths: torch.Tensor, vocab_size: int, steps: int = 400,
                       batch_size: int = 64, lr: float = 3e-3, seed: int = 0, hidden: int = 128) -> ReferenceLM:
    """Fit the reference LM on real rows by Adam (seeded; a few hundred steps suffice for the small corpora)."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        lm = ReferenceLM(vocab_size, hidden=hidden)
    opt = torch.optim.Adam(lm.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(tokens), (batch_size,), generator=g)
        total, count = lm.token_nll(tokens[idx], lengths[idx])
        loss = total / count
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 5.0)
        opt.step()
    return lm.eval()


@torch.no_grad()
def perplexity(lm: ReferenceLM, tokens: torch.Tensor, lengths: Optional[torch.Tensor] = None,
               batch_size: int = 256) -> float:
    """exp(mean NLL per token) of rows under `lm`; lengths default to "up to and including the first <eos>"."""
    if lengths is None:
        lengths = rows_lengths(tokens)
    total = torch.zeros(2)
    for i in range(0, len(tokens), batch_size):
        total += lm.token_nll(tokens[i : i + batch_size], lengths[i : i + batch_size])
    return math.exp(float(total[0] / total[1].clamp(min=1)))


def rows_lengths(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens up to and including the first <eos> of each row (the whole row when it has none)."""
    is_eos = tokens == EOS_ID
    first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full_like(tokens[:, 0], tokens.shape[1] - 1))
    return first + 1


def sentences(tokens: torch.Tensor, vocab: Sequence[str]) -> List[List[str]]:
    """The words of each row before its first <eos> (pads skipped)."""
    out = []
    for row in tokens.tolist():
        words = []
        for i in row:
            if i == EOS_ID:
                break
            if i != PAD_ID:
                words.append(vocab[i])
        out.append(words)
    return out

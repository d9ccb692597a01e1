"""MaskGAN's networks (Fedus, Goodfellow & Dai, "MaskGAN: Better Text Generation via Filling in the ______",
ICLR 2018, §3 and the official `seq2seq_vd` models): LSTM encoder–decoders over word ids.

* The **encoder** reads the masked sequence m(x) (missing tokens replaced by ``<m>``); its final state starts the
  decoder, and the decoder attends over all its outputs (Luong dot attention, as the official code), so a filled
  word can depend on the words after the blank. Encoder and decoder share the word embedding
  (`seq2seq_share_embedding`).
* The **generator** decodes autoregressively: at step t it reads the previous token of the filled sequence (the
  real one where present) and the encoder output aligned with t, and proposes a distribution over words; present
  tokens are copied, missing ones sampled. Decoding is batched: one LSTM step per position for the whole batch.
* The **discriminator** has the same architecture; its decoder reads the filled sequence itself and gives one
  real/fake logit per token (whether x̂_t is the real word, given m(x) and x̂_{≤t}). Its state before token t,
  h_{t−1}, is what the critic head reads.
* The **critic** (official `critic_seq2seq_vd_derivative`) is a linear head on the discriminator's states: V(s_t)
  from h_{t−1}, trained on its own (its gradient does not reach the discriminator).

Deviations, for CPU: one layer of 128–256 units instead of 2×650; ordinary dropout on embeddings and outputs
instead of variational dropout; the aligned encoder output is also fed to the decoder (a positional hint that
makes small models learn to in-fill much faster).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator

MASK_ID, EOS_ID, PAD_ID = 3, 2, 0  # data/text.py's special ids (models/ does not import data/)


@dataclass
class Seq2SeqConfig:
    name: str = "maskgan-seq2seq"
    emb_dim: int = 64
    hidden: int = 128
    dropout: float = 0.0  # on embeddings and decoder outputs (the paper: variational dropout, keep 0.34–0.72)

    def validate(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


class Seq2Seq(nn.Module):
    """Shared embedding, encoder LSTM over m(x), decoder LSTM with dot attention over the encoder outputs."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.vocab_size, self.hidden = vocab_size, hidden
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.encoder = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.decoder = nn.LSTM(emb_dim + hidden, hidden, batch_first=True)
        self.combine = nn.Linear(2 * hidden, hidden)  # Luong: tanh(W [h_t; context_t])
        self.drop = nn.Dropout(dropout)

    def encode(self, masked: torch.Tensor):
        """Encoder outputs N×L×H and final state (h, c) of the masked sequence."""
        return self.encoder(self.drop(self.embed(masked)))

    def decode(self, tokens: torch.Tensor, aligned: torch.Tensor, memory: torch.Tensor, state):
        """Decoder over `tokens` (N×T) with aligned encoder outputs (N×T×H), attending over `memory` (N×L×H).
        Returns (attentional outputs N×T×H, raw LSTM states N×T×H, final state)."""
        x = torch.cat([self.drop(self.embed(tokens)), aligned], dim=-1)
        h, state = self.decoder(x, state)
        weights = torch.softmax(h @ memory.transpose(1, 2), dim=-1)  # N×T×L
        out = torch.tanh(self.combine(torch.cat([h, weights @ memory], dim=-1)))
        return self.drop(out), h, state


def masked_input(tokens: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """m(x): missing tokens replaced by the mask token."""
    return torch.where(missing, torch.full_like(tokens, MASK_ID), tokens)


class MaskGenerator(Generator):
    """Fills the missing tokens of a sequence given the rest (the MaskGAN / MaskMLE generator)."""

    z_dim = 0
    text = True

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 64, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        self.seq_len, self.out_shape = seq_len, (seq_len,)
        self.net = Seq2Seq(vocab_size, emb_dim, hidden, dropout)
        self.out = nn.Linear(hidden, vocab_size)
        # P(row length = n), n = 0..seq_len, of the training data: unconditional samples draw their length here
        self.register_buffer("length_probs", torch.zeros(seq_len + 1))
        self.register_buffer("never", torch.tensor([PAD_ID, MASK_ID]), persistent=False)

    def forward(self, tokens: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits N×L×V of every position (the input at t is the real token t−1)."""
        memory, state = self.net.encode(masked_input(tokens, missing))
        prev = torch.cat([torch.full_like(tokens[:, :1], EOS_ID), tokens[:, :-1]], dim=1)
        out, _, _ = self.net.decode(prev, memory, memory, state)
        return self.logits(out)

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        """Word logits of decoder outputs; <pad> and <m> are never proposed (−1e9: finite, so a cross-entropy
        weighted 0 at a padded position stays 0)."""
        return self.out(out).index_fill(-1, self.never, -1e9)

    def fill(self, tokens: torch.Tensor, missing: torch.Tensor, generator: Optional[torch.Generator] = None,
             temperature: float = 1.0, greedy: bool = False, ban: Tuple[int, ...] = ()) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sample the missing tokens autoregressively: (filled tokens N×L, log π of each chosen token N×L, zero at
        present positions; differentiable for REINFORCE). One batched LSTM step per position. `ban`: token ids
        never chosen (e.g. <eos> and <unk> when a person's blanks must be words)."""
        banned = torch.tensor(ban, dtype=torch.long, device=tokens.device)
        memory, state = self.net.encode(masked_input(tokens, missing))
        prev = torch.full_like(tokens[:, 0], EOS_ID)
        filled, logps = [], []
        for t in range(tokens.shape[1]):
            out, _, state = self.net.decode(prev[:, None], memory[:, t : t + 1], memory, state)
            logits = self.logits(out[:, 0])
            if ban:
                logits = logits.index_fill(-1, banned, -1e9)
            logp = F.log_softmax(logits / temperature, dim=-1)  # N×V
            with torch.no_grad():
                if greedy:
                    choice = logp.argmax(dim=-1)
                else:
                    choice = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            token = torch.where(missing[:, t], choice, tokens[:, t])
            logps.append(logp.gather(1, token[:, None])[:, 0] * missing[:, t])
            filled.append(token)
            prev = token
        return torch.stack(filled, 1), torch.stack(logps, 1)


class MaskDiscriminator(Discriminator):
    """Per-token logits that x̂_t is the real word, given m(x) and x̂_{≤t}."""

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 64, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        self.net = Seq2Seq(vocab_size, emb_dim, hidden, dropout)
        self.out = nn.Linear(hidden, 1)

    def forward_with_features(self, filled: torch.Tensor, missing: torch.Tensor, y=None):
        """(logits N×L, states before each token N×L×H: h_{t−1}, the encoder's final state for t = 0)."""
        memory, state = self.net.encode(masked_input(filled, missing))
        out, h, _ = self.net.decode(filled, memory, memory, state)
        before = torch.cat([state[0].transpose(0, 1), h[:, :-1]], dim=1)
        return self.out(out)[..., 0], before

    def forward(self, filled: torch.Tensor, missing: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(filled, missing)[0]


class Critic(nn.Module):
    """V(s_t) from the discriminator's state before token t (a linear head)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.head = nn.Linear(hidden, 1)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.head(states)[..., 0]


def _text_info(info):
    if not getattr(info, "vocab", ()):
        raise ConfigError("the MaskGAN networks need text data (a vocabulary): use data.name grammar, fortunes "
                          "or text-file")
    return len(info.vocab), int(info.shape[0])


@GENERATORS.register("maskgan-seq2seq", Seq2SeqConfig)
def build_mask_generator(cfg: Seq2SeqConfig, info) -> MaskGenerator:
    vocab, seq_len = _text_info(info)
    return MaskGenerator(vocab, seq_len, cfg.emb_dim, cfg.hidden, cfg.dropout)


@DISCRIMINATORS.register("maskgan-seq2seq", Seq2SeqConfig)
def build_mask_discriminator(cfg: Seq2SeqConfig, info) -> MaskDiscriminator:
    vocab, seq_len = _text_info(info)
    return MaskDiscriminator(vocab, seq_len, cfg.emb_dim, cfg.hidden, cfg.dropout)

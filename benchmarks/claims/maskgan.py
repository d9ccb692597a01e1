"""MaskGAN vs MaskMLE on the grammar corpus (Fedus et al., ICLR 2018, §5–6), in miniature, plus the critic's
effect on the variance of the REINFORCE gradient, and tokens/s of training and in-filling. Prints markdown tables.

Protocol (one seed, CPU): a generator is pre-trained by maximum likelihood (MaskMLE) for `--pretrain` updates with
the discriminator trained alongside (the official `dis_pretrain`); from that state three arms run `--gan` more
updates each — MaskMLE (more MLE updates: the same budget), MaskGAN with the critic baseline, MaskGAN without a
baseline. Each arm fills the blanks of the same held-out rows (contiguous masks, half of each row missing) by
sampling; the filled sentences are scored by

* their share of grammatical sentences and exact log-likelihood under the PCFG (human-free sample quality);
* unique n-gram % (n = 2, 3, 4) over all filled sentences (the paper's mode-dropping measure);
* perplexity under a reference LSTM LM trained on the real training rows (the paper's "validation perplexity").

Gradient variance: at the end of the MaskGAN arm (trained G, D and critic), the REINFORCE gradient of G is
estimated on `--var-batches` fresh batches with the critic baseline and with none (same batches, same samples);
the table gives the total variance (mean squared distance of the per-batch gradients from their mean).

    OMP_NUM_THREADS=1 python benchmarks/claims/maskgan.py [--pretrain 600] [--gan 300]
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from ganforge.config import load_config
from ganforge.data import BatchStream, build_dataset
from ganforge.data.grammar import PCFG
from ganforge.data.masking import random_mask
from ganforge.methods import build_method
from ganforge.metrics.text import grammar_scores, perplexity, sentences, train_reference_lm, unique_ngrams
from ganforge.nn.reinforce import advantages, reinforce_loss

PAPER = ("Paper (PTB, Table 4/5 and §6): MaskGAN's samples are preferred by human raters over MaskMLE's; "
         "MaskGAN loses some unique n-grams (mode dropping) and its perplexity under the reference LM is not "
         "better than MaskMLE's — perplexity-type scores do not capture the human preference.")


def run_steps(method, stream, n):
    t0, logs = time.perf_counter(), None
    for _ in range(n):
        logs = method.step(stream, 0.0)
    return time.perf_counter() - t0, {k: float(v) for k, v in (logs or {}).items()}


@torch.no_grad()
def infill_scores(generator, held, missing, grammar, lm, vocab, seed):
    generator.eval()
    t0 = time.perf_counter()
    filled, _ = generator.fill(held.x, missing, generator=torch.Generator().manual_seed(seed))
    seconds = time.perf_counter() - t0
    generator.train()
    sents = sentences(filled, vocab)
    out = grammar_scores(sents, grammar)
    out.update(unique_ngrams(sents))
    out["ref_lm_ppl"] = perplexity(lm, filled)
    out["infill_tok_per_s"] = filled.numel() / seconds
    return out


def grad_vector(method, tokens, missing, use_critic, seed):
    """The REINFORCE gradient of G's parameters for one batch (flattened), with or without the critic."""
    torch.manual_seed(seed)
    g = method.generator
    logp, returns, values, _, _ = method.policy_terms(tokens, missing)
    adv = advantages(returns, values.detach() if use_critic else None, method.cfg.advantage_clip)
    grads = torch.autograd.grad(reinforce_loss(logp, adv, missing), [p for p in g.parameters()], allow_unused=True)
    return torch.cat([(gr if gr is not None else torch.zeros_like(p)).flatten() for gr, p in zip(grads, g.parameters())])


def gradient_variance(method, data, batches, batch_size, seed):
    stream = BatchStream(data, batch_size, seed=seed + 50)
    out = {}
    samples = []
    for i in range(batches):
        torch.manual_seed(seed + i)
        samples.append(method.masked_batch(stream))
    for name, use in (("critic", True), ("none", False)):
        gs = torch.stack([grad_vector(method, t, m, use, seed + 1000 + i) for i, (t, m) in enumerate(samples)])
        out[name] = {"variance": float(((gs - gs.mean(0)) ** 2).sum(1).mean()),
                     "mean_norm": float(gs.mean(0).norm())}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain", type=int, default=600)
    ap.add_argument("--gan", type=int, default=300)
    ap.add_argument("--held", type=int, default=500)
    ap.add_argument("--var-batches", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    cfg = load_config("maskgan-grammar", [f"method.pretrain_steps={args.pretrain}"])
    data = build_dataset(cfg.data)
    grammar = PCFG(max_words=cfg.data.seq_len - 1)
    held = build_dataset(type(cfg.data)(n=args.held, seq_len=cfg.data.seq_len, seed=12345))
    missing = random_mask(held.attrs["length"], cfg.data.seq_len, cfg.method.rate, cfg.method.mask,
                          torch.Generator().manual_seed(7))
    vocab = data.vocab.words
    bs = cfg.train.batch_size

    t0 = time.perf_counter()
    lm = train_reference_lm(data.x, data.attrs["length"], len(vocab), steps=600, seed=args.seed)
    lm_s = time.perf_counter() - t0
    real_ppl = perplexity(lm, held.x)

    base = build_method(cfg, data.info)
    stream = BatchStream(data, bs, seed=args.seed)
    pre_s, pre_logs = run_steps(base, stream, args.pretrain)
    tokens_per_step = bs * cfg.data.seq_len
    speed = {"MLE pre-training (G + D)": args.pretrain * tokens_per_step / pre_s}

    rows, logs = {}, {}
    rows["MaskMLE (pre-trained only)"] = infill_scores(base.generator, held, missing, grammar, lm, vocab, 1)
    arms = {"MaskMLE": ("maskmle", "critic"), "MaskGAN (critic)": ("maskgan", "critic"),
            "MaskGAN (no baseline)": ("maskgan", "none")}
    trained = {}
    for name, (kind, baseline) in arms.items():
        torch.manual_seed(args.seed + 1)
        m = copy.deepcopy(base)
        m._opt = None
        m.load_state_dict(base.state_dict())  # a fresh copy of the optimisers' state as well
        m.cfg = copy.copy(base.cfg)
        m.cfg.baseline = baseline
        m.cfg.adversarial = kind == "maskgan"
        st = BatchStream(data, bs, seed=args.seed + 1)
        s, logs[name] = run_steps(m, st, args.gan)
        speed[f"{name} updates"] = args.gan * tokens_per_step / s
        rows[name] = infill_scores(m.generator, held, missing, grammar, lm, vocab, 1)
        trained[name] = m
    var = gradient_variance(trained["MaskGAN (critic)"], data, args.var_batches, bs, args.seed + 3)

    print(f"## MaskGAN vs MaskMLE on the grammar corpus (pre-train {args.pretrain}, then {args.gan} updates per "
          f"arm; {args.held} held-out rows, contiguous masks of 50%)\n")
    print("| arm | grammatical % | exact log-lik (nats/sent.) | NLL/word | unique 2/3/4-gram % | ref-LM ppl |")
    print("|---|---|---|---|---|---|")
    real = held.texts
    rs = grammar_scores(real, grammar)
    rs.update(unique_ngrams(real))
    rs["ref_lm_ppl"] = real_ppl
    for name, r in [("real held-out rows", rs)] + list(rows.items()):
        print(f"| {name} | {100 * r['grammatical']:.1f} | {r['log_likelihood']:.2f} | {r['nll_per_word']:.3f} | "
              f"{r['unique_2gram_pct']:.1f} / {r['unique_3gram_pct']:.1f} / {r['unique_4gram_pct']:.1f} | "
              f"{r['ref_lm_ppl']:.2f} |")
    print(f"\n{PAPER}\n")
    print("## REINFORCE gradient variance at the trained MaskGAN (same batches and samples)\n")
    print("| baseline | total variance of ∇G | norm of mean ∇G |")
    print("|---|---|---|")
    for k, v in var.items():
        print(f"| {k} | {v['variance']:.4g} | {v['mean_norm']:.4g} |")
    print(f"\nratio none / critic: {var['none']['variance'] / max(var['critic']['variance'], 1e-12):.2f}\n")
    print("## Speed (one CPU thread, shared machine; tokens = batch × 20 positions per update)\n")
    print("| stage | tokens/s |")
    print("|---|---|")
    for k, v in speed.items():
        print(f"| {k} | {v:.0f} |")
    for name, r in rows.items():
        print(f"| in-filling, {name} ({args.held} rows, one batch) | {r['infill_tok_per_s']:.0f} |")
    print(f"\nreference LM: 600 steps in {lm_s:.0f} s; last logs: pretrain {pre_logs}; "
          + "; ".join(f"{k} {v}" for k, v in logs.items()))


if __name__ == "__main__":
    main()

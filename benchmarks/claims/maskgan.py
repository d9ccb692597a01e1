"""MaskGAN vs MaskMLE on the grammar corpus (Fedus et al., ICLR 2018, §5–6), in miniature, plus the critic's
effect on the variance of the REINFORCE gradient, and tokens/s of training and in-filling. Publishes
docs/claims/maskgan.json and its section of docs/claims.md.

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
    python benchmarks/claims/maskgan.py --render      # re-render the section from its JSON
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, make_results,  # noqa: E402
                           publish, render_section, script_cli_render, verdict_block)

from ganforge.config import load_config
from ganforge.data import BatchStream, build_dataset
from ganforge.data.grammar import PCFG
from ganforge.nn.masking import random_mask
from ganforge.methods import build_method
from ganforge.metrics.text import grammar_scores, perplexity, sentences, train_reference_lm, unique_ngrams
from ganforge.nn.reinforce import advantages, reinforce_loss

SLUG = "maskgan"
TITLE = "MaskGAN vs MaskMLE: in-filling quality, mode dropping, the critic baseline (Fedus et al. 2018)"
PAPER = ("Paper (Fedus, Goodfellow, Dai, ICLR 2018; PTB and IMDB, Tables 4-8 and §6): MaskGAN's in-filled and "
         "unconditional samples are preferred by human raters over MaskMLE's (Mechanical Turk, 300 ratings per "
         "pair); MaskGAN loses some unique n-grams (mode dropping) and its perplexity under the reference LM is "
         "not better than MaskMLE's — perplexity-type scores do not capture the human preference; the critic's "
         "value estimate is the REINFORCE baseline that reduces the variance of the generator's gradient. The "
         "headline is a human judgement, which cannot be rerun offline; here the exact grammar of a synthetic "
         "corpus stands in for it, so no paper numbers are set beside ours.")


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
        sq = ((gs - gs.mean(0)) ** 2).sum(1)
        out[name] = {"variance": float(sq.mean()), "mean_norm": float(gs.mean(0).norm()),
                     "per_batch": [float(v) for v in sq]}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain", type=int, default=600)
    ap.add_argument("--gan", type=int, default=300)
    ap.add_argument("--held", type=int, default=500)
    ap.add_argument("--var-batches", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", action="store_true", help="re-render the section from its JSON; measure nothing")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
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
    print(f"reference LM {lm_s:.0f} s; pre-training {pre_s:.0f} s", flush=True)
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
        print(name, f"{s:.0f} s", {k: v for k, v in rows[name].items()}, flush=True)
    var = gradient_variance(trained["MaskGAN (critic)"], data, args.var_batches, bs, args.seed + 3)

    real = held.texts
    rs = grammar_scores(real, grammar)
    rs.update(unique_ngrams(real))
    rs["ref_lm_ppl"] = real_ppl
    numbers = {"pretrain": args.pretrain, "gan": args.gan, "held": args.held, "var_batches": args.var_batches,
               "seed": args.seed, "batch": bs, "seq_len": cfg.data.seq_len, "mask": cfg.method.mask,
               "rate": cfg.method.rate, "corpus": cfg.data.n, "hidden": cfg.generator.hidden,
               "real": rs, "rows": rows, "variance": var, "speed": speed, "lm_seconds": lm_s,
               "last_logs": {"pretrain": pre_logs, **logs}}
    results = make_results(SLUG, __file__, "maskgan", TITLE, command_line(), _finite(numbers))
    publish(results)
    print(render_section(results))


# --- the section ----------------------------------------------------------------------------------------------

def _finite(x):
    """The numbers with NaN / inf (e.g. the log-likelihood when no in-fill is grammatical) as None (JSON null)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return None if isinstance(x, float) and (x != x or abs(x) == float("inf")) else x


def _f(x, fmt: str = "{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def verdict_quality(n: dict):
    """MaskGAN (critic) against MaskMLE on the share of grammatical in-filled sentences: REPRODUCED when higher by
    more than twice the binomial standard error of the difference, DIRECTION when higher by less, NOT otherwise."""
    g, m = n["rows"]["MaskGAN (critic)"], n["rows"]["MaskMLE"]
    pg, pm, k = g["grammatical"], m["grammatical"], n["held"]
    se = ((pg * (1 - pg) + pm * (1 - pm)) / k) ** 0.5
    diff = pg - pm
    label = REPRODUCED if diff > 2 * se else DIRECTION if diff > 0 else NOT_REPRODUCED
    return ("MaskGAN in-fills better than MaskMLE (grammar as the stand-in for raters)", label,
            f"Grammatical in-filled sentences: MaskGAN {100 * pg:.1f} %, MaskMLE {100 * pm:.1f} % (standard error of "
            f"the difference {100 * se:.1f} points); exact log-likelihood of the grammatical ones "
            f"{_f(g['log_likelihood'])} vs {_f(m['log_likelihood'])} nats per sentence.",
            f"MaskGAN's grammatical share above MaskMLE's by more than twice the binomial standard error over the "
            f"{k} held-out rows (above by less: within the spread)")


def verdict_modes(n: dict):
    """MaskGAN's unique 4-gram share against MaskMLE's (the paper's mode dropping). The yardstick for noise is how
    much the two MLE states (pre-trained only, and after the further MLE updates) differ: REPRODUCED when MaskGAN
    is lower by more than that, a weaker label when lower by less, NOT otherwise."""
    g, m = n["rows"]["MaskGAN (critic)"], n["rows"]["MaskMLE"]
    spread = abs(m["unique_4gram_pct"] - n["rows"]["MaskMLE (pre-trained only)"]["unique_4gram_pct"])
    drop = m["unique_4gram_pct"] - g["unique_4gram_pct"]
    label = (REPRODUCED if drop > spread else
             "lower, but by less than the two MLE states differ" if drop > 0 else NOT_REPRODUCED)
    return ("MaskGAN drops some n-grams", label,
            f"Unique 4-grams: MaskGAN {g['unique_4gram_pct']:.1f} %, MaskMLE {m['unique_4gram_pct']:.1f} % (lower by "
            f"{drop:.1f} points; the two MLE states differ by {spread:.1f}).",
            "MaskGAN's unique 4-gram share below MaskMLE's by more than the pre-trained and the further-trained "
            "MaskMLE differ from each other")


def verdict_critic(n: dict):
    """Total variance of the REINFORCE gradient with the critic baseline and with none, on the same batches and
    samples: REPRODUCED when the mean per-batch squared distance from the mean gradient is lower with the critic by
    more than twice the standard error of the paired per-batch difference; DIRECTION when lower by less."""
    c, o = n["variance"]["critic"], n["variance"]["none"]
    d = [b - a for a, b in zip(c["per_batch"], o["per_batch"])]
    se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else 0.0
    diff = statistics.mean(d)
    label = REPRODUCED if diff > 2 * se else DIRECTION if diff > 0 else NOT_REPRODUCED
    return ("the critic lowers the gradient variance", label,
            f"Total variance of the generator's REINFORCE gradient: {c['variance']:.4g} with the critic, "
            f"{o['variance']:.4g} without a baseline ({o['variance'] / max(c['variance'], 1e-12):.2f} times), over "
            f"{len(d)} batches.",
            "lower with the critic by more than twice the standard error of the paired per-batch difference")


def verdict(n: dict):
    return [verdict_quality(n), verdict_modes(n), verdict_critic(n)]


def render(results: dict):
    n = results["numbers"]
    lines = ["| arm | grammatical | exact log-lik of those (nats / sentence) | their NLL / word | unique 2 / 3 / 4-grams | "
             "ref-LM perplexity |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in [("real held-out rows", n["real"])] + list(n["rows"].items()):
        lines.append(f"| {name} | {100 * r['grammatical']:.1f} % | {_f(r['log_likelihood'])} | "
                     f"{_f(r['nll_per_word'], '{:.3f}')} | {r['unique_2gram_pct']:.1f} / {r['unique_3gram_pct']:.1f} / "
                     f"{r['unique_4gram_pct']:.1f} % | {r['ref_lm_ppl']:.2f} |")
    lines += ["", "REINFORCE gradient of G at the trained MaskGAN (same batches and samples):", "",
              "| baseline | total variance of ∇G | norm of the mean ∇G |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['variance']:.4g} | {v['mean_norm']:.4g} |" for k, v in n["variance"].items()]
    lines += ["", f"Speed (one CPU thread, shared machine; tokens = batch × {n['seq_len']} positions per update):", "",
              "| stage | tokens / s |", "|---|---:|"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in n["speed"].items()]
    lines += [f"| in-filling, {k} ({n['held']} rows, one batch) | {r['infill_tok_per_s']:,.0f} |"
              for k, r in n["rows"].items()]
    measured = "\n".join(lines) + (
        f"\n\nThe `maskgan-grammar` preset (an English-like PCFG corpus of {n['corpus']:,} sentences with exact "
        f"likelihoods, length {n['seq_len']}, {n['mask']} masks of {100 * n['rate']:.0f} % of the tokens; 1-layer "
        f"LSTMs of {n['hidden']} units, batch {n['batch']}, seed {n['seed']}): {n['pretrain']} MLE pre-training "
        f"updates with D trained alongside, then {n['gan']} more updates per arm from that state — MaskMLE (more "
        f"MLE), MaskGAN with the critic baseline, MaskGAN without a baseline. Each arm fills the blanks of the same "
        f"{n['held']} held-out rows by sampling; grammatical share and log-likelihood under the PCFG, unique n-gram "
        f"share over all filled sentences, perplexity under a reference LSTM LM trained on the real rows. The "
        f"gradient variance is the mean squared distance of {n['var_batches']} per-batch gradients from their mean.")
    return PAPER, measured, verdict_block(verdict(n))


RENDER = {"maskgan": render}


if __name__ == "__main__":
    main()

"""Per-kind scoring of one preset's run for docs/gallery.md (benchmarks/gallery.py).

The kind is read from the run's data (DataInfo: text, audio, two image domains, two point domains, points, images)
and the checkpoint's contents (a talking-heads run keeps an embedder), never from the method's name. Every score
comes from the library's own scorers — ``ganforge.evaluate`` (image, translation, audio, few-shot talking heads),
``ganforge.metrics.text`` (MaskGAN's text scores), the shipped task classifiers (benchmarks/_quality.py) — or, for
the DiscoGAN toy that `ganforge eval` does not score, from the claim script's own mode map
(benchmarks/claims/discogan.py). Nothing is re-implemented here.

Each scorer returns a :class:`Scored`: the rows of the score table and optional markdown shown under it (text
samples), plus the caption of the picture.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch

EVAL_N = 2000
TASK_EVALUATOR = {"mnist5k": "mnist5k", "shapes": "shapes"}  # data set -> classifier of the task score
TEXT_HELD = 500  # in-filled held-out rows (as benchmarks/claims/maskgan.py)
TOY_N = 5000  # translated A points (as benchmarks/claims/discogan.py)

LABELS = {
    "fid": "FID", "precision": "precision", "recall": "recall", "modes": "modes covered",
    "high_quality": "high-quality share", "kl": "KL(modes ‖ uniform)",
    "psnr": "PSNR (dB, luma)", "ssim": "SSIM", "label_acc": "label preserved (domain-B classifier)",
    "label_acc_real": "label of real B images (the ceiling)", "kid": "KID",
    "fcn_pixel_acc": "FCN per-pixel accuracy", "fcn_class_acc": "FCN per-class accuracy",
    "fcn_class_iou": "FCN class IoU", "fcn_real_pixel_acc": "FCN per-pixel accuracy, real targets",
    "fcn_real_class_acc": "FCN per-class accuracy, real targets", "fcn_real_class_iou": "FCN class IoU, real targets",
    "pe": "pitch entropy (nats)", "ndb": "NDB (of 50 bins, lower is better)",
    "csim": "CSIM (identity cosine)", "landmark_error_px": "landmark error (px)",
    "fid_identity": "FID (identity features)",
}


@dataclass
class Scored:
    kind: str
    rows: List[Tuple[str, str]] = field(default_factory=list)
    extra: str = ""  # markdown under the table (text samples)
    what: str = ""  # one line: what was scored
    picture: bool = True  # the run's samples/latest.png is the section's picture
    table_md: str = ""  # a table of another shape than score | value (text: one column per kind of sentence)

    def table(self) -> str:
        if self.table_md:
            return self.table_md
        return "| score | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in self.rows)


def kind_of(run_dir: str) -> str:
    import ganforge
    from ganforge.talking_head_api import is_talking_head_run

    if is_talking_head_run(run_dir):
        return "talking-heads"
    info = ganforge.load(run_dir).info
    if getattr(info, "is_text", False):
        return "text"
    if getattr(info, "is_audio", False):
        return "audio"
    if info.two_domain:
        return "translation"
    if info.target_shape:
        return "point-translation"
    return "image" if info.is_image else "points"


def score(run_dir: str, preset: str) -> Scored:
    kind = kind_of(run_dir)
    return SCORERS[kind](run_dir, preset)


def _rows(scores: dict, skip=()) -> List[Tuple[str, str]]:
    return [(LABELS.get(k, k), str(v) if isinstance(v, int) else f"{v:.3f}") for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip and not k.endswith("_std")]


# -------------------------------------------------------------------------------------------- images, points


def score_image(run_dir: str, preset: str) -> Scored:
    import ganforge
    from _quality import legibility, real_legibility

    g = ganforge.load(run_dir)
    s = dict(ganforge.evaluate(run_dir, metrics="fid,pr", n=EVAL_N, record=False).scores)
    out = Scored("image", _rows(s), what=f"{EVAL_N:,} samples")
    data = g.config.data.name
    if data in TASK_EVALUATOR:
        leg = legibility(run_dir, TASK_EVALUATOR[data], n=EVAL_N)
        real = real_legibility(preset, TASK_EVALUATOR[data])
        covered = sum(1 for v in leg["class_counts"].values() if v > 0)
        out.rows.append(("recognised with p ≥ 0.9", f"{leg['confident_share']:.2f} (real data {real:.2f}); they "
                         f"cover {covered} of {len(leg['class_counts'])} classes"))
    return out


def score_points(run_dir: str, preset: str) -> Scored:
    import ganforge

    s = dict(ganforge.evaluate(run_dir, metrics="modes", n=EVAL_N, record=False).scores)
    return Scored("points", _rows(s, skip=("modes_total",)), what=f"{EVAL_N:,} samples")


def score_translation(run_dir: str, preset: str) -> Scored:
    """Image-to-image (pix2pix, CycleGAN, DiscoGAN on digits, SR): the data's own translation scores."""
    import ganforge

    s = dict(ganforge.evaluate(run_dir, metrics="auto", n=EVAL_N, record=False).scores)
    return Scored("translation", _rows(s), what=f"the first {EVAL_N:,} inputs of the data")


# -------------------------------------------------------------------------------------------- 2-D translation


@torch.no_grad()
def score_point_translation(run_dir: str, preset: str) -> Scored:
    """The DiscoGAN toy: G_AB of 5,000 A points, B modes hit and the injectivity of the A -> B mode map, measured
    by the claim's own `mode_map` (benchmarks/claims/discogan.py)."""
    import ganforge
    from ganforge.data import build_dataset

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "claims"))
    from discogan import HIT, mode_map  # noqa: E402  (the claim's measure, not a copy)

    g = ganforge.load(run_dir)
    ds = build_dataset(g.config.data)
    batch = ds.get(torch.arange(min(TOY_N, len(ds))))
    r = mode_map(g.generator.eval()(batch.x.to(g.device)).cpu(), batch.attrs["mode"])
    rows = [("B modes hit (≥ {:.0%} of translations, of 10)".format(HIT), str(r["modes_hit"])),
            ("A → B mode map injectivity (of 5; 5 = one-to-one)", str(r["injectivity"])),
            ("dominant B mode of each A mode (−1: none holds 25 %)", str(r["dominant"])),
            ("translations on a B mode (within 4σ)", f"{r['on_mode']:.3f}"),
            ("share of an A mode's points on its dominant B mode", f"{r['purity']:.3f}")]
    return Scored("point-translation", rows, what=f"G_AB of {len(batch.x):,} A points, scored as "
                  f"benchmarks/claims/discogan.py does")


# -------------------------------------------------------------------------------------------- audio


def score_audio(run_dir: str, preset: str) -> Scored:
    """GANSynth / WaveGAN: `ganforge eval`'s audio scores (pitch accuracy, pitch entropy, FID on the pitch
    classifier's features, NDB), with the pitch accuracy of the real notes beside."""
    import ganforge
    from ganforge.audio_eval import audio_scores, real_waves, settings_of_info

    g = ganforge.load(run_dir)
    s = dict(ganforge.evaluate(run_dir, metrics="pa,pe,fid,ndb", n=EVAL_N, record=False).scores)
    real, pitch = real_waves(g.config.data, EVAL_N)
    settings, _ = settings_of_info(g.info)
    real_pa = audio_scores(real, pitch, real, ["pa"], settings)["pa"]
    rows = [("pitch accuracy (the pitch classifier hears the asked pitch)", f"{s['pa']:.3f} (real notes "
             f"{real_pa:.3f})")]
    rows += [("pitch entropy (nats)", f"{s['pe']:.3f}"), ("FID (pitch classifier's features)", f"{s['fid']:.3f}"),
             ("NDB (of 50 bins, lower is better)", f"{s['ndb']:.0f}")]
    return Scored("audio", rows, what=f"{EVAL_N:,} notes (pitches drawn from the data's histogram) against "
                  f"{len(real):,} real notes; the picture: log-magnitude spectrograms of the run's last sample "
                  f"grid (frequency up, time right)")


# -------------------------------------------------------------------------------------------- talking heads


def score_talking_heads(run_dir: str, preset: str) -> Scored:
    """Few-shot talking heads: `ganforge eval`'s protocol (unseen identities, K = 8 frames, fine-tuned for the
    run's method.finetune_steps, 16 held-out poses each)."""
    import ganforge

    res = ganforge.evaluate(run_dir, n=EVAL_N, record=False)
    p = res.protocol
    return Scored("talking-heads", _rows(dict(res.scores)),
                  what=f"{p['people']} unseen identities, K = {p['shots']} frames each, fine-tuned "
                       f"{p['finetune_steps']} steps, {p['n_fake'] // p['people']} held-out poses each")


# -------------------------------------------------------------------------------------------- text


def score_text(run_dir: str, preset: str) -> Scored:
    """MaskGAN / MaskMLE: in-filled held-out rows (half of each row masked as in training) and unconditional
    samples, scored as benchmarks/claims/maskgan.py does: unique n-grams, perplexity under a reference LM trained
    on the real rows, and on the grammar corpus the share of grammatical sentences; the real rows beside."""
    import ganforge
    from ganforge.data import build_dataset
    from ganforge.metrics.text import grammar_scores, perplexity, sentences, train_reference_lm, unique_ngrams
    from ganforge.nn.masking import random_mask
    from ganforge.text_api import WORDS_ONLY

    g = ganforge.load(run_dir)
    cfg = g.config
    data = build_dataset(cfg.data)
    fields = {f.name for f in dataclasses.fields(cfg.data)}
    if {"seed", "n"} <= fields:  # a generated corpus: fresh rows of another seed are held out
        held = build_dataset(dataclasses.replace(cfg.data, n=TEXT_HELD, seed=12345))
        held_what = f"{TEXT_HELD} held-out rows (corpus seed 12345)"
    else:  # a fixed corpus: its first rows (seen in training)
        held = data
        held_what = f"the first {min(TEXT_HELD, len(data))} rows of the training corpus (no held-out split)"
    rows_x = held.x[:TEXT_HELD]
    missing = random_mask(held.attrs["length"][:TEXT_HELD].cpu(), rows_x.shape[1], cfg.method.rate, cfg.method.mask,
                          torch.Generator().manual_seed(7))
    with torch.no_grad():
        filled, _ = g.generator.fill(rows_x.to(g.device), missing.to(g.device),
                                     generator=torch.Generator(device=g.device).manual_seed(1), ban=WORDS_ONLY)
    filled = filled.cpu()
    sampled = g.sample_tokens(TEXT_HELD, seed=0)
    vocab = data.vocab.words
    lm = train_reference_lm(data.x, data.attrs["length"], len(vocab), steps=600, seed=0)
    grammar = None
    if cfg.data.name == "grammar":
        from ganforge.data.grammar import PCFG

        grammar = PCFG(max_words=cfg.data.seq_len - 1)

    @torch.no_grad()
    def measure(tokens):
        sents = sentences(tokens, vocab)
        out = {"ppl": perplexity(lm, tokens)}
        out.update(unique_ngrams(sents))
        if grammar is not None:
            out["grammatical"] = grammar_scores(sents, grammar)["grammatical"]
        return out

    cols = {"in-filled": measure(filled), "sampled": measure(sampled), "real rows": measure(rows_x.cpu())}
    names = [("ppl", "perplexity under the reference LM", "{:.1f}")]
    if grammar is not None:
        names.append(("grammatical", "grammatical share (exact PCFG)", "{:.3f}"))
    names += [(f"unique_{n}gram_pct", f"unique {n}-grams %", "{:.1f}") for n in (2, 3, 4)]
    header = "| score | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols)
    lines = [f"| {label} | " + " | ".join(fmt.format(c[key]) for c in cols.values()) + " |"
             for key, label, fmt in names]
    shown_f = [g._show(r, m) for r, m in zip(filled[:4].tolist(), missing[:4].tolist())]
    shown_s = g.sample_text(4, seed=0)
    extra = ("In-filled rows (the generator's words in [brackets]):\n\n```\n" + "\n".join(f"  {t}" for t in shown_f)
             + "\n```\n\nUnconditional samples (every word generated):\n\n```\n"
             + "\n".join(f"  {t}" for t in shown_s) + "\n```")
    return Scored("text", [], extra=extra, picture=False, table_md=header + "\n" + "\n".join(lines),
                 what=f"in-filled: {held_what}, half of each row masked (contiguous as in training), sampled with "
                      f"seed 1; sampled: {TEXT_HELD} unconditional samples; reference LM: a 1-layer LSTM trained "
                      f"600 steps on the training rows")


SCORERS = {"image": score_image, "points": score_points, "translation": score_translation,
           "point-translation": score_point_translation, "audio": score_audio,
           "talking-heads": score_talking_heads, "text": score_text}

"""Few-shot talking heads (Zakharov et al., ICCV 2019, §4 and Table 1), in miniature: more shots help, fine-tuning
beats the feed-forward model on identity (CSIM), and fine-tuning from meta-learned weights beats fine-tuning the
same networks from scratch. Publishes docs/claims/talking-heads.json and its section of docs/claims.md.

Protocol (CPU): a meta-learned run of the `talking-heads` preset (`--run`; procedural heads, 32²). Few-shot
identities: `--people` people of the test split (disjoint from meta-training), one video of 48 frames each; the
first 32 frames are the pool the K shots come from (K evenly spaced frames, K ∈ {1, 8, 32}), the last 16 are
held-out poses. Each arm makes a model of the person from the K shots and renders the 16 held-out poses from
their landmarks:

* FF: the feed-forward model G(y, P ê) (no fine-tuning);
* FT: fine-tuned for the run's `method.finetune_steps` (ψ' = P ê, w' = w0 + ê, §3.4);
* scratch (K = 8): the same fine-tuning of networks with fresh weights (never meta-learned).

Scores against the ground-truth renders of the same poses (ganforge.metrics.talking_heads): CSIM (identity network
shipped in assets/, trained on other identities), SSIM, landmark error of a shipped landmark regressor (pixels),
and FID between identity-network features of all people's real and generated held-out frames.

    OMP_NUM_THREADS=1 python benchmarks/claims/talking_heads.py --run runs/talking-heads [--people 6]
    python benchmarks/claims/talking_heads.py --render
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, compare_means,  # noqa: E402
                           make_results, publish, render_section, script_cli_render, verdict_block)

from ganforge.metrics.talking_heads import load_evaluator, score_frames  # noqa: E402
from ganforge.talking_head_api import (HELD, POOL, TalkingHeadModel, few_shot_people, load_talking_head,  # noqa: E402
                                       person_scores)

SLUG, TITLE = "talking-heads", "Few-shot talking heads (Zakharov et al. 2019)"
PAPER = ("Table 1 and §4: models of new people from K = 1, 8, 32 frames — more frames give better scores "
         "(FID down, SSIM and CSIM up); fine-tuning (FT) preserves identity better than the feed-forward model "
         "(FF); the meta-learned initialisation is what makes few-shot fine-tuning work (§3.4, §4: fine-tuning "
         "networks that were not meta-learned needs far more data and steps).")

def stats(values):
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=False)
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--shots", default="1,8,32")
    ap.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the run's)")
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(1)
    model = load_talking_head(args.run)
    scratch = TalkingHeadModel.untrained(model.config, model.info, seed=1)
    steps = model.cfg.finetune_steps if args.steps is None else args.steps
    ev = load_evaluator()
    ds = few_shot_people(args.people, model.resolution)
    ks = [int(k) for k in args.shots.split(",")]
    arms = [(f"FF K={k}", model, k, 0) for k in ks] + [(f"FT K={k}", model, k, steps) for k in ks]
    arms.append(("scratch K=8", scratch, 8, steps))
    per = {name: [] for name, *_ in arms}
    fakes = {name: [] for name, *_ in arms}
    reals, t0 = [], time.time()
    for p in range(args.people):
        for name, m, k, st in arms:
            scores, fake, real = person_scores(m, ds, p, k, st, ev)
            per[name].append(scores)
            fakes[name].append(fake)
        reals.append(real)
        print(f"person {p + 1}/{args.people} done ({time.time() - t0:.0f}s)", flush=True)
    real = torch.cat(reals)
    rows = {}
    for name, *_ in arms:
        fid = score_frames(torch.cat(fakes[name]), real, torch.zeros(len(real), 68, 2), ev)["fid_identity"]
        rows[name] = {key: stats([r[key] for r in per[name]]) for key in ("csim", "ssim", "landmark_error_px")}
        rows[name]["fid_identity"] = fid
        print(name, {k: round(v["mean"], 4) if isinstance(v, dict) else round(v, 3) for k, v in rows[name].items()})
    numbers = {"rows": rows, "people": args.people, "steps": steps, "shots": ks, "pool": POOL, "held": HELD,
               "run": os.path.relpath(os.path.abspath(args.run)), "meta_steps": _meta_steps(model),
               "evaluator": ev[2], "seconds": round(time.time() - t0)}
    results = make_results(SLUG, __file__, "talking-heads", TITLE, command_line(), numbers)
    publish(results)
    print(render_section(results))


def _meta_steps(model) -> int:
    from ganforge.train.checkpoint import read_meta

    return int((read_meta(model.checkpoint).get("counters") or {}).get("g_steps", 0))


def verdict(n):
    r, ks = n["rows"], n["shots"]
    parts = []
    c = [r[f"FT K={k}"]["csim"]["mean"] for k in ks]
    f = [r[f"FT K={k}"]["fid_identity"] for k in ks]
    mono = all(a < b for a, b in zip(c, c[1:])) and all(a > b for a, b in zip(f, f[1:]))
    some = c[-1] > c[0] and f[-1] < f[0]
    parts.append(("More shots (FT)", REPRODUCED if mono else DIRECTION if some else NOT_REPRODUCED,
                  f"CSIM {' → '.join(f'{v:.3f}' for v in c)}, FID {' → '.join(f'{v:.1f}' for v in f)} for K = "
                  f"{', '.join(map(str, ks))}.", "CSIM rises and FID falls at every step of K (reproduced); from the "
                  "smallest to the largest K only (same direction)"))
    for k in ks:
        a, b = r[f"FT K={k}"]["csim"], r[f"FF K={k}"]["csim"]
        parts.append((f"FT vs FF, K={k}", compare_means(a, b), f"CSIM {a['mean']:.3f} ± {a['std']:.3f} vs "
                      f"{b['mean']:.3f} ± {b['std']:.3f}.", "mean difference over people larger than the larger "
                      "std (reproduced), smaller but positive (same direction)"))
    a, b = r["FT K=8"]["csim"], r["scratch K=8"]["csim"]
    parts.append(("Meta-learned vs scratch, K=8", compare_means(a, b), f"CSIM {a['mean']:.3f} ± {a['std']:.3f} vs "
                  f"{b['mean']:.3f} ± {b['std']:.3f}; SSIM {r['FT K=8']['ssim']['mean']:.3f} vs "
                  f"{r['scratch K=8']['ssim']['mean']:.3f}.", "as above, on CSIM"))
    return parts


def render(results):
    n = results["numbers"]
    lines = ["| arm | CSIM ↑ | SSIM ↑ | landmark error (px) ↓ | FID (identity features) ↓ |", "|---|---:|---:|---:|---:|"]
    for name, r in n["rows"].items():
        lines.append(f"| {name} | {r['csim']['mean']:.3f} ± {r['csim']['std']:.3f} | {r['ssim']['mean']:.3f} | "
                     f"{r['landmark_error_px']['mean']:.2f} | {r['fid_identity']:.1f} |")
    e = n["evaluator"]
    measured = "\n".join(lines) + (
        f"\n\n{n['people']} test-split people (never meta-trained on), K shots evenly spaced in the first "
        f"{n['pool']} frames of a 48-frame video, scored on the other {n['held']} poses against their ground-truth "
        f"renders (± = std over people). Meta-learned run: {n['meta_steps']} steps of the `talking-heads` preset "
        f"(32²); fine-tuning {n['steps']} steps. CSIM/FID use the shipped identity network (held-out accuracy "
        f"{100 * e['held_out_identity_accuracy']:.1f} %, verification AUC {e['verification_auc_test_identities']:.3f} "
        f"on these test people); landmark error uses the shipped regressor ({e['landmark_error_px_test_identities']:.2f}"
        f" px on real test frames). FID over {n['people'] * n['held']} frames with 128-d features is a rough, "
        f"biased number: compare arms, not runs.")
    return PAPER, measured, verdict_block(verdict(n))


RENDER = {"talking-heads": render}


if __name__ == "__main__":
    main()

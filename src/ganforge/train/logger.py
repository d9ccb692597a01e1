"""Run logging: metrics.jsonl (one JSON object per logged step), optional TensorBoard, and the loss plot."""
from __future__ import annotations

import json
import logging
import math
import os
from typing import Dict, List, Optional

from ..utils.images import save_figure

log = logging.getLogger(__name__)


class RunLogger:
    def __init__(self, run_dir: str, tensorboard: bool = True):
        self.path = os.path.join(run_dir, "metrics.jsonl")
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(os.path.join(run_dir, "tb"))
            except Exception:  # tensorboard not installed: the JSONL log is the record
                self.tb = None

    def truncate_after(self, step: int) -> None:
        """Drop records past `step` (written after the checkpoint a resumed run restarts from)."""
        if not os.path.isfile(self.path):
            return
        from ..utils.safeio import atomic_write

        keep = [r for r in read_metrics(self.path) if r.get("step", 0) <= step]
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in keep).encode())

    def write(self, record: Dict) -> None:
        append_record(self.path, record)
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def append_record(path: str, record: Dict) -> None:
    """One JSON line at the end of `path`, on a line of its own even after a cut-off last line."""
    with open(path, "ab+") as f:
        cut = False
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            cut = f.read(1) != b"\n"
        f.write((("\n" if cut else "") + json.dumps(record) + "\n").encode())


def read_metrics(path: str) -> List[Dict]:
    out = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        record = None
                    if isinstance(record, dict):
                        out.append(record)
                    else:
                        log.warning("skipping a damaged line in %s", path)
    return out


def plot_losses(metrics_path: str, out: str, keys: Optional[List[str]] = None) -> Optional[str]:
    """Plot every loss-like series of metrics.jsonl against the step (raw, faint, and smoothed)."""
    records = read_metrics(metrics_path)
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = keys or sorted({k for r in records for k in r if "loss" in k}) or _logged_terms(records)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    for i, k in enumerate(keys):
        pts = [(r["step"], r[k]) for r in records if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
        if not pts:
            continue
        xs, ys = zip(*pts)
        color = f"C{i}"
        ax.plot(xs, ys, color=color, alpha=0.25, lw=0.8)
        w = max(1, len(ys) // 20)
        smooth = [sum(ys[max(0, j - w + 1) : j + 1]) / len(ys[max(0, j - w + 1) : j + 1]) for j in range(len(ys))]
        ax.plot(xs, smooth, color=color, lw=1.8, label=k)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    ax.set_title(os.path.basename(os.path.dirname(os.path.abspath(metrics_path))))
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


_NOT_TERMS = {"step", "g_steps", "d_steps", "images_seen", "img_per_s", "time", "eval_seconds"}


def _logged_terms(records) -> list:
    """The logged training terms of a recipe whose names do not say "loss" (e.g. SRResNet's "mse")."""
    return sorted({k for r in records for k, v in r.items()
                   if k not in _NOT_TERMS and not k.startswith("eval") and isinstance(v, (int, float))})


# (title, y-axis label, keys, bounded): bounded scores (fractions, mode counts) always keep a linear axis.
SCORE_PANELS = (("fid", "FID (lower is better)", ("fid",), False), ("kid", "KID (lower is better)", ("kid",), False),
                ("inception score", "IS (higher is better)", ("is",), False),
                ("precision / recall", "fraction (higher is better)", ("precision", "recall"), True),
                ("density / coverage", "density, coverage", ("density", "coverage"), True),
                ("swd ×1e3", "SWD ×1e3 (lower is better)", ("swd",), False),
                ("modes", "modes covered", ("modes",), True))


def y_scale(values, bounded: bool = False) -> str:
    """'log' for a positive series spanning more than a decade (FID falls from hundreds to tens, and a linear axis
    shows only its first drop), else 'linear' — always for `bounded` scores such as precision in [0, 1]."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if bounded or len(vals) < 2 or min(vals) <= 0:
        return "linear"
    return "log" if max(vals) / min(vals) > 10 else "linear"


def _images_axis(ax, records) -> None:
    """A second x axis in images seen when every evaluation saw the same number of images per iteration."""
    pairs = [(r["step"], r["images_seen"]) for r in records if r.get("step") and r.get("images_seen")]
    rates = {round(seen / step, 6) for step, seen in pairs}
    if len(rates) == 1:
        rate = rates.pop()
        top = ax.secondary_xaxis("top", functions=(lambda s: s * rate, lambda i: i / rate))
        top.set_xlabel("images seen", fontsize=8)
        top.tick_params(labelsize=7)


def plot_scores(metrics_path: str, out: str) -> Optional[str]:
    """One panel per evaluation score in metrics.jsonl against the iteration (and images seen), for the newest
    evaluation protocol (scores made under different protocols are not drawn on one line); a log y axis where a
    score spans decades (:func:`y_scale`). None when there are no scores."""
    records = [r for r in read_metrics(metrics_path) if "eval_protocol_key" in r]
    if not records:
        return None
    key = records[-1]["eval_protocol_key"]
    records = sorted((r for r in records if r["eval_protocol_key"] == key), key=lambda r: r.get("step", 0))
    panels = [p for p in SCORE_PANELS if any(f"eval/{k}" in r for r in records for k in p[2])]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.3), dpi=110, squeeze=False)
    for ax, (title, ylabel, ks, bounded) in zip(axes[0], panels):
        values = []
        for k in ks:
            pts = [(r.get("step", 0), r[f"eval/{k}"]) for r in records
                   if isinstance(r.get(f"eval/{k}"), (int, float)) and math.isfinite(r[f"eval/{k}"])]
            if pts:
                xs, ys = zip(*pts)
                values += ys
                ax.plot(xs, ys, marker="o", ms=3, lw=1.5, label=k)
        ax.set_yscale(y_scale(values, bounded))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        _images_axis(ax, records)
        ax.grid(alpha=0.3, which="both" if ax.get_yscale() == "log" else "major")
        if len(ks) > 1:
            ax.legend(fontsize=7)
    p = records[-1]["eval_protocol"]
    fig.suptitle(f"{os.path.basename(os.path.dirname(os.path.abspath(metrics_path)))} — {p.get('extractor')}, "
                 f"{p.get('n_fake')} samples, protocol {key[:8]}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out

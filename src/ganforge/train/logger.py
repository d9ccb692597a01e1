"""Run logging: metrics.jsonl (one JSON object per logged step), optional TensorBoard, and the loss plot."""
from __future__ import annotations

import json
import logging
import math
import os
from typing import Dict, List, Optional

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
        keep = [r for r in read_metrics(self.path) if r.get("step", 0) <= step]
        with open(self.path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in keep)

    def write(self, record: Dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(path: str) -> List[Dict]:
    out = []
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
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

    keys = keys or sorted({k for r in records for k in r if "loss" in k})
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
    ax.legend(loc="best", fontsize=8)
    ax.set_title(os.path.basename(os.path.dirname(os.path.abspath(metrics_path))))
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out

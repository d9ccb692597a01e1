"""A meta-learned talking-head run loaded for use (Zakharov et al., ICCV 2019): put a new person in motion from K
frames, either feed-forward (G with ψ = P·ê) or after fine-tuning G', D' on the K frames (§3.4).

    model = load_talking_head("runs/talking-heads")
    head = model.fine_tune(frames, landmark_images)          # or model.feed_forward(frames, landmark_images)
    video = model.animate(head, driving_landmark_images)     # N×3×H×W in [-1, 1]

Frames and landmark images are float N×3×H×W in [-1, 1] at the run's resolution (landmark images as
``data.talking_heads.rasterize_landmarks`` draws them, converted to [-1, 1]). :func:`animate_folder` is what
`ganforge talking-head` runs on folders in the users' format (docs/talking_heads.md).
"""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

import torch

from .config import load_config
from .data import DataInfo
from .errors import CheckpointError, DataError
from .methods import build_method
from .methods.talking_head import PersonalHead, TalkingHead, fine_tune, personal_models
from .train.checkpoint import load_entry, read_meta
from .train.trainer import resolve_device


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float()


class TalkingHeadModel:
    """The meta-learned E, G and D of a run (or fresh ones: :meth:`untrained`, the from-scratch baseline)."""

    def __init__(self, method: TalkingHead, config, info: DataInfo, device, checkpoint: str = ""):
        self.method, self.config, self.info, self.device, self.checkpoint = method, config, info, device, checkpoint
        self.method.to(device)
        self.method.train(False)
        self.resolution = int(info.shape[1])

    @staticmethod
    def untrained(config, info: DataInfo, seed: int = 0, device="cpu") -> "TalkingHeadModel":
        """Networks of the run's architecture with fresh weights (for fine-tuning from scratch)."""
        torch.manual_seed(seed)
        return TalkingHeadModel(build_method(config, info), config, info, resolve_device(device))

    @property
    def cfg(self):
        return self.config.method

    def _check(self, frames: torch.Tensor, landmarks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        r = self.resolution
        if frames.shape != landmarks.shape:
            raise DataError(f"{len(frames)} frames {tuple(frames.shape[1:])} but {len(landmarks)} landmark images "
                            f"{tuple(landmarks.shape[1:])}: give one landmark image per frame, of the same size")
        if frames.dim() != 4 or tuple(frames.shape[1:]) != (3, r, r):
            raise DataError(f"frames must be N×3×{r}×{r} (this run's resolution), got {tuple(frames.shape)}")
        if len(frames) == 0:
            raise DataError("no frames given: fine-tuning needs at least one frame of the person")
        return as_float(frames).to(self.device), as_float(landmarks).to(self.device)

    @torch.no_grad()
    def embed(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """ê: the mean embedding of the K frames (embed_dim)."""
        frames, landmarks = self._check(frames, landmarks)
        return self.method.embedder.average(frames[None], landmarks[None])[0]

    def feed_forward(self, frames: torch.Tensor, landmarks: torch.Tensor) -> PersonalHead:
        """The feed-forward model of the person: G with ψ = P·ê_NEW, no fine-tuning."""
        frames, landmarks = self._check(frames, landmarks)
        m = self.method
        return personal_models(m.embedder, m.generator, m.discriminator, frames, landmarks)[0].eval()

    def fine_tune(self, frames: torch.Tensor, landmarks: torch.Tensor, steps: Optional[int] = None,
                  seed: int = 0) -> PersonalHead:
        """G' fine-tuned on the frames (method.finetune_* settings; `steps` overrides finetune_steps)."""
        frames, landmarks = self._check(frames, landmarks)
        m = self.method
        steps = self.cfg.finetune_steps if steps is None else int(steps)
        with torch.enable_grad():
            head, self.history = fine_tune(m.embedder, m.generator, m.discriminator, frames, landmarks, self.cfg,
                                           steps, seed=seed, features=m.features)
        return head

    @torch.no_grad()
    def animate(self, head: PersonalHead, landmarks: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Frames (N×3×H×W in [-1, 1], on the CPU) of the person driven by landmark images."""
        r = self.resolution
        if landmarks.dim() != 4 or tuple(landmarks.shape[1:]) != (3, r, r):
            raise DataError(f"driving landmark images must be N×3×{r}×{r}, got {tuple(landmarks.shape)}")
        lm = as_float(landmarks)
        return torch.cat([head(lm[i : i + batch_size].to(self.device)).cpu() for i in range(0, len(lm), batch_size)])


def load_talking_head(run_dir: str, device: str = "cpu") -> TalkingHeadModel:
    """The newest checkpoint of a talking-heads run."""
    from .api import _resolve_checkpoint

    ckpt = _resolve_checkpoint(str(run_dir))
    meta = read_meta(ckpt)
    config = load_config(meta["config"])
    info = DataInfo.from_json(meta["data_info"])
    if config.method.name != "talking-head" and "embedder" not in meta.get("state", {}):
        raise CheckpointError(f"{run_dir} is not a talking-heads run (method {config.method.name!r}); train one "
                              f"with `ganforge train talking-heads`")
    method = build_method(config, info)
    try:
        for name, net in method.networks().items():
            net.load_state_dict(load_entry(ckpt, name, meta))
    except (RuntimeError, KeyError) as e:
        raise CheckpointError(f"{ckpt}: the weights do not fit this talking-heads run ({str(e).splitlines()[0]})") \
            from None
    return TalkingHeadModel(method, config, info, resolve_device(device), ckpt)


# ------------------------------------------------------------------------------------------------ scores

POOL, HELD = 32, 16  # per unseen person: the first 32 frames of a video are the pool of shots, the last 16 the poses


def shot_indices(k: int) -> torch.Tensor:
    """K evenly spaced frames of the pool (the first frame when K = 1)."""
    return torch.linspace(0, POOL - 1, k).round().long() if k > 1 else torch.tensor([0])


def few_shot_people(people: int, resolution: int, seed: int = 0):
    """One 48-frame video of each of `people` identities of the test split (never seen in meta-learning)."""
    from .data.talking_heads import TalkingHeadsConfig, make_videos

    return make_videos(TalkingHeadsConfig(identities=people, frames=POOL + HELD, split="test", resolution=resolution,
                                          seed=seed))


def person_scores(model: TalkingHeadModel, videos, person: int, shots: int, steps: int, evaluator=None):
    """A model of person `person` from `shots` frames of its pool — fine-tuned for `steps` (seeded by the person),
    feed-forward when 0 — driven by the landmarks of its HELD held-out poses and scored against their real
    renders (CSIM, SSIM, landmark error; ganforge.metrics.talking_heads). Returns (scores, fake, real)."""
    from .metrics.talking_heads import score_frames

    sl = slice(person * (POOL + HELD), (person + 1) * (POOL + HELD))
    x, lm, pts = as_float(videos.x[sl]), as_float(videos.target[sl]), videos.attrs["points"][sl]
    idx = shot_indices(shots)
    head = (model.fine_tune(x[idx], lm[idx], steps=steps, seed=person) if steps
            else model.feed_forward(x[idx], lm[idx]))
    fake = model.animate(head, lm[POOL:])
    return score_frames(fake, x[POOL:], pts[POOL:], evaluator), fake, x[POOL:]


def evaluate_few_shot(model: TalkingHeadModel, people: int = 4, shots: int = 8, steps: Optional[int] = None,
                      seed: int = 0, evaluator=None) -> dict:
    """The paper's few-shot protocol (§4) on `people` unseen identities: mean CSIM, SSIM and landmark error (px)
    over the people, and FID between the identity-network features of all real and generated held-out frames."""
    from .metrics.talking_heads import load_evaluator, score_frames

    ev = evaluator or load_evaluator()
    steps = model.cfg.finetune_steps if steps is None else int(steps)
    videos = few_shot_people(people, model.resolution, seed)
    rows, fakes, reals = [], [], []
    for p in range(people):
        scores, fake, real = person_scores(model, videos, p, shots, steps, ev)
        rows.append(scores)
        fakes.append(fake)
        reals.append(real)
    real = torch.cat(reals)
    out = {k: sum(r[k] for r in rows) / len(rows) for k in ("csim", "ssim", "landmark_error_px")}
    out["fid_identity"] = score_frames(torch.cat(fakes), real, torch.zeros(len(real), 68, 2), ev)["fid_identity"]
    return out


def is_talking_head_run(run_dir: str) -> bool:
    from .api import _resolve_checkpoint

    return "embedder" in read_meta(_resolve_checkpoint(str(run_dir))).get("state", {})


def evaluate_run(run_dir: str, n: int = 128, shots: int = 8, seed: int = 0, device: str = "cpu"):
    """`ganforge eval` on a talking-heads run: :func:`evaluate_few_shot` with n // 16 unseen people (1 to 8, 16
    held-out poses each), K = `shots`, fine-tuned for the run's method.finetune_steps. An EvalResult."""
    import time

    from .evaluation import EvalResult

    started = time.perf_counter()
    model = load_talking_head(run_dir, device)
    people = max(1, min(n // HELD, 8))
    scores = evaluate_few_shot(model, people, shots, seed=seed)
    protocol = {"extractor": "talking-heads-identity", "n_fake": people * HELD, "n_real": people * HELD,
                "seed": seed, "people": people, "shots": shots, "finetune_steps": model.cfg.finetune_steps}
    key = f"talking-heads/people{people}/K{shots}/ft{model.cfg.finetune_steps}/seed{seed}"
    return EvalResult(scores, protocol, key, time.perf_counter() - started, list(scores))


# ------------------------------------------------------------------------------------------------ folders


def read_driving(path: str, size: int) -> torch.Tensor:
    """Driving landmarks from a folder (frames + landmark files, or landmark files alone with `frame_size`) ->
    uint8 landmark images N×3×size×size."""
    from .data.talking_heads import rasterize_landmarks, read_frames

    _, points = read_frames(path, size, need_images=False)
    return rasterize_landmarks(points, size)


def animate_folder(run: str, frames_dir: str, drive: str, shots: int, out: str, finetune_steps: Optional[int] = None,
                   seed: int = 0, device: str = "cpu") -> Tuple[str, int]:
    """`ganforge talking-head`: the first `shots` frames of `frames_dir` (frames + landmark files) → a fine-tuned
    (finetune_steps > 0) or feed-forward (0) model → the person driven by `drive`'s landmarks, written as a GIF of
    (driving landmarks | generated frame) pairs. Returns (path, number of frames)."""
    from .data.talking_heads import rasterize_landmarks, read_frames
    from .utils.images import make_grid, save_gif

    if shots < 1:
        raise DataError(f"--shots must be at least 1, got {shots}")
    model = load_talking_head(run, device)
    r = model.resolution
    frames, points = read_frames(frames_dir, r)
    if shots > len(frames):
        raise DataError(f"--shots {shots} is more than the {len(frames)} frames in {frames_dir}")
    frames, lm = frames[:shots], rasterize_landmarks(points[:shots], r)
    drive_lm = read_driving(drive, r)
    steps = model.cfg.finetune_steps if finetune_steps is None else finetune_steps
    head = model.fine_tune(frames, lm, steps=steps, seed=seed) if steps > 0 else model.feed_forward(frames, lm)
    video = model.animate(head, drive_lm)
    pics: List = [make_grid(torch.stack([as_float(d), v]), nrow=2) for d, v in zip(drive_lm, video)]
    if not out.lower().endswith(".gif"):
        out = os.path.splitext(out)[0] + ".gif"
    return save_gif(pics, out), len(pics)

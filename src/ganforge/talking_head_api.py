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

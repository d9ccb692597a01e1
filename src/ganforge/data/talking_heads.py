"""Procedural "talking heads": a stand-in for VoxCeleb that keeps the structure of few-shot talking-head synthesis
(Zakharov et al., "Few-Shot Adversarial Learning of Realistic Neural Talking Head Models", ICCV 2019, §3-4).

* **Identity** (fixed per person, drawn from the seed): face width and height, skin, hair, eye and background
  colours, hair style (short, long, fringe) and a striped hair texture, eye spacing and size, nose length, mouth
  width and height, brow thickness, glasses, and a striped background texture.
* **Pose and expression** (per frame): yaw (features shift sideways and the face narrows — a 2-D approximation),
  pitch (features shift up/down), roll (everything rotates about the face centre), mouth opening, blink and
  brow raise. A "video" is a smooth trajectory of these: two sinusoids per parameter, blinks as short bumps.
* **Landmarks**: 68 points in the dlib / 300-W order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, lips
  48-67), computed from the same parameters, and rasterised as the paper does: coloured polylines (one colour per
  part; eyes and lips closed) on a blank image.

Everything is vectorised over frames in torch; edges are anti-aliased (soft over about a pixel). Identities of
the ``train`` split (meta-learning) and the ``test`` split (few-shot) are drawn from
disjoint seed streams.

Dataset layout (a :class:`TensorDataset`): `x` frames (uint8 N×3×H×W), `target` the rasterised landmarks of the
same frame (uint8 N×3×H×W, paired), `y` the video index (so ``DataInfo.num_classes`` is the number of videos, the
size of the discriminator's W matrix), attrs ``frame`` (index in its video), ``identity`` and ``points``
(N×68×2 landmark positions in pixels, x then y). Frames of a video are contiguous and in time order.

Users' data (``path``): a folder of frames ``NAME.png|jpg`` each with ``NAME.txt`` beside it (68 lines ``x y`` in
pixels of that image); sub-folders are separate videos (a flat folder is one video). See docs/talking_heads.md.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

N_POINTS = 68
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")

# (first, last, closed, RGB) of each landmark part, dlib order; one colour per part, as the paper's rasterisation.
PARTS: Tuple[Tuple[int, int, bool, Tuple[int, int, int]], ...] = (
    (0, 16, False, (255, 255, 255)),  # jaw
    (17, 21, False, (255, 200, 0)),  # brow (image left)
    (22, 26, False, (255, 120, 0)),  # brow (image right)
    (27, 30, False, (0, 120, 255)),  # nose bridge
    (31, 35, False, (0, 220, 255)),  # nose base
    (36, 41, True, (0, 255, 0)),  # eye (image left)
    (42, 47, True, (120, 255, 120)),  # eye (image right)
    (48, 59, True, (255, 0, 80)),  # outer lip
    (60, 67, True, (200, 0, 255)),  # inner lip
)
IDENTITY_KEYS = ("face_w", "face_h", "eye_dx", "eye_y", "eye_r", "nose_len", "mouth_y", "mouth_w", "brow_t",
                 "hairline", "hair_style", "glasses", "hair_freq", "bg_freq", "bg_angle")
POSE_KEYS = ("yaw", "pitch", "roll", "mouth", "blink", "brow")


@dataclass
class TalkingHeadsConfig:
    name: str = "talking-heads"
    resolution: int = 32  # 32 or 64 (any multiple of 8 from 16 to 128)
    identities: int = 300  # people in the split (one or more videos each)
    videos_per_identity: int = 1
    frames: int = 32  # frames per video
    split: str = "train"  # train (meta-learning identities) | test (disjoint few-shot identities)
    seed: int = 0
    path: str = ""  # a folder of users' frames + landmark files instead of the procedural heads


# -------------------------------------------------------------------------------------------- parameters


def _rng(seed: int, split: str, *idx: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), {"train": 0, "test": 1}[split], *idx])


def identity_params(seed: int, split: str, n: int) -> Dict[str, torch.Tensor]:
    """n identities' parameters (each key: a float tensor of length n; colours n×3 in [0, 1])."""
    rows = []
    for i in range(n):
        r = _rng(seed, split, i, 0)
        skin = np.array([0.95, 0.78, 0.62]) * r.uniform(0.45, 1.05) + r.uniform(-0.05, 0.05, 3)
        hair = r.choice([[0.1, 0.07, 0.05], [0.45, 0.28, 0.12], [0.85, 0.7, 0.35], [0.55, 0.55, 0.55],
                         [0.6, 0.15, 0.08], [0.2, 0.2, 0.5]]) + r.uniform(-0.06, 0.06, 3)
        eye = r.choice([[0.15, 0.35, 0.75], [0.35, 0.2, 0.08], [0.2, 0.55, 0.25], [0.35, 0.35, 0.35]])
        bg1, bg2 = r.uniform(0.0, 1.0, 3), r.uniform(0.0, 1.0, 3)
        rows.append(dict(
            face_w=r.uniform(0.22, 0.30), face_h=r.uniform(0.29, 0.36), eye_dx=r.uniform(0.085, 0.12),
            eye_y=r.uniform(-0.08, -0.03), eye_r=r.uniform(0.032, 0.048), nose_len=r.uniform(0.06, 0.1),
            mouth_y=r.uniform(0.13, 0.18), mouth_w=r.uniform(0.06, 0.1), brow_t=r.uniform(0.008, 0.018),
            hairline=r.uniform(-0.62, -0.35), hair_style=float(r.integers(0, 3)), glasses=float(r.random() < 0.3),
            hair_freq=r.uniform(40, 120), bg_freq=r.uniform(8, 40), bg_angle=r.uniform(0, math.pi),
            skin=np.clip(skin, 0, 1), hair=np.clip(hair, 0, 1), eye=np.asarray(eye), bg1=bg1, bg2=bg2))
    return {k: torch.tensor(np.array([row[k] for row in rows]), dtype=torch.float32) for k in rows[0]}


def pose_trajectories(seed: int, split: str, n_videos: int, frames: int,
                      video_offset: int = 0) -> Dict[str, torch.Tensor]:
    """Smooth per-frame pose/expression of each video: n_videos × frames per key."""
    t = np.arange(frames) / max(frames, 1)
    out = {k: [] for k in POSE_KEYS}
    ranges = {"yaw": 0.6, "pitch": 0.45, "roll": 0.25}
    for v in range(n_videos):
        r = _rng(seed, split, video_offset + v, 1)

        def wave(amp):
            f1, f2 = r.uniform(0.3, 1.2), r.uniform(1.0, 2.5)
            p1, p2 = r.uniform(0, 2 * math.pi, 2)
            a = r.uniform(0.5, 1.0)
            return amp * (a * np.sin(2 * math.pi * f1 * t + p1) + (1 - a) * np.sin(2 * math.pi * f2 * t + p2))

        for k, amp in ranges.items():
            out[k].append(wave(amp))
        out["mouth"].append(np.clip(0.45 + wave(0.8), 0.0, 1.0))
        out["brow"].append(np.clip(0.5 + wave(0.7), 0.0, 1.0))
        blinks = r.uniform(0, 1, r.integers(1, 4))
        out["blink"].append(np.clip(sum(np.exp(-((t - b) * frames / 1.2) ** 2) for b in blinks), 0, 1))
    return {k: torch.tensor(np.array(v), dtype=torch.float32) for k, v in out.items()}


# -------------------------------------------------------------------------------------------- geometry


def _ellipse(cx, cy, ax, ay, n, a0=0.0, a1=None, closed=True):
    """n points on each frame's ellipse (tensors of length N) from angle a0 to a1 (default: once round) -> N×n×2."""
    a1 = a0 + 2 * math.pi if a1 is None else a1
    k = torch.arange(n, dtype=torch.float32) / (n if closed else n - 1)
    a = a0 + (a1 - a0) * k
    return torch.stack([cx[:, None] + ax[:, None] * torch.cos(a), cy[:, None] + ay[:, None] * torch.sin(a)], -1)


def _features(idp: Dict[str, torch.Tensor], pose: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Per-frame geometry in the face frame (origin at the face centre, before roll), all tensors of length N."""
    yaw, pitch = pose["yaw"], pose["pitch"]
    squash = 1 - 0.3 * yaw.abs()
    sx = yaw * idp["face_w"] * 0.55  # features move towards the side the head turns to
    sy = pitch * idp["face_h"] * 0.3
    return dict(
        squash=squash, sx=sx, sy=sy, face_cx=sx * 0.25, face_w=idp["face_w"] * (1 - 0.12 * yaw.abs()),
        eye_lx=-idp["eye_dx"] * squash + sx, eye_rx=idp["eye_dx"] * squash + sx, eye_y=idp["eye_y"] + sy,
        eye_rw=idp["eye_r"] * squash.sqrt(), eye_rh=idp["eye_r"] * 0.62 * (1 - 0.9 * pose["blink"]) + 1e-4,
        brow_y=idp["eye_y"] + sy - idp["eye_r"] * 1.5 - 0.03 * pose["brow"],
        nose_top=idp["eye_y"] + sy, nose_tip=idp["eye_y"] + sy + idp["nose_len"], nose_x=sx * 1.15,
        mouth_x=sx, mouth_y=idp["mouth_y"] + sy, mouth_w=idp["mouth_w"] * squash,
        mouth_h=0.012 + 0.045 * pose["mouth"])


def face_landmarks(idp, pose) -> torch.Tensor:
    """N×68×2 landmark positions in the face frame (dlib order)."""
    g = _features(idp, pose)
    fw, fh = g["face_w"], idp["face_h"]
    jaw = _ellipse(g["face_cx"], torch.zeros_like(fw), fw, fh, 17, math.pi + 0.25, -0.25, closed=False)
    brows = []
    for ex in (g["eye_lx"], g["eye_rx"]):
        xs = ex[:, None] + g["eye_rw"][:, None] * 1.3 * torch.linspace(-1, 1, 5)
        ys = g["brow_y"][:, None] - 0.012 * (1 - torch.linspace(-1, 1, 5) ** 2)
        brows.append(torch.stack([xs, ys], -1))
    k4 = torch.linspace(0, 1, 4)
    bridge = torch.stack([g["nose_x"][:, None].expand(-1, 4),
                          g["nose_top"][:, None] + (g["nose_tip"] - g["nose_top"])[:, None] * k4], -1)
    base = torch.stack([g["nose_x"][:, None] + 0.022 * g["squash"][:, None] * torch.linspace(-1, 1, 5),
                        g["nose_tip"][:, None] + 0.006 * (1 - torch.linspace(-1, 1, 5) ** 2)], -1)
    eyes = [_ellipse(ex, g["eye_y"], g["eye_rw"], g["eye_rh"], 6, math.pi) for ex in (g["eye_lx"], g["eye_rx"])]
    outer = _ellipse(g["mouth_x"], g["mouth_y"], g["mouth_w"], g["mouth_h"] + 0.012, 12, math.pi)
    inner = _ellipse(g["mouth_x"], g["mouth_y"], g["mouth_w"] * 0.75, g["mouth_h"], 8, math.pi)
    return torch.cat([jaw, *brows, bridge, base, *eyes, outer, inner], 1)


def _to_image(p: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Face-frame points (N×P×2) -> image coordinates in [0, 1] (rotated by roll about the face centre)."""
    c, s = torch.cos(roll)[:, None], torch.sin(roll)[:, None]
    x, y = p[..., 0], p[..., 1]
    return torch.stack([0.5 + c * x - s * y, 0.54 + s * x + c * y], -1)


# -------------------------------------------------------------------------------------------- rendering


def _grid(size: int) -> torch.Tensor:
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], -1)


def rasterize_landmarks(points: torch.Tensor, size: int, step: float = 0.25) -> torch.Tensor:
    """68 landmarks per frame (N×68×2, pixels) -> uint8 N×3×size×size: coloured polylines on black (paper §3.1).

    Each part's segments are sampled every `step` pixels at twice the resolution and the samples mark the part's
    number in a label map (later parts over earlier ones), which a 3×3 max filter widens (lines about 1.5 pixels
    wide); the part colours are looked up and averaged back down to `size` (anti-aliasing)."""
    n, s2 = len(points), size * 2
    p = points.float() * 2
    label = torch.zeros(n, s2 * s2)
    for k, (a, b, closed, _) in enumerate(PARTS):
        idx = list(range(a, b + 1)) + ([a] if closed else [])
        pa, pb = p[:, idx[:-1]], p[:, idx[1:]]  # N×S×2
        m = max(2, int(math.ceil(float((pb - pa).norm(dim=-1).max()) / step)) + 1) if n else 2
        t = torch.linspace(0, 1, m)[None, None, :, None]
        pts = (pa[:, :, None] + (pb - pa)[:, :, None] * t).reshape(n, -1, 2)
        ij = pts.floor().long()
        ok = ((ij >= 0) & (ij < s2)).all(-1)
        flat = ij[..., 1].clamp(0, s2 - 1) * s2 + ij[..., 0].clamp(0, s2 - 1)
        label.scatter_reduce_(1, flat, ok.float() * (k + 1), reduce="amax")  # samples outside mark nothing
    label = F.max_pool2d(label.view(n, 1, s2, s2), 3, 1, 1).long()[:, 0]
    table = torch.cat([torch.zeros(1, 3), torch.tensor([c for *_, c in PARTS], dtype=torch.float32)])
    img = F.avg_pool2d(table[label].permute(0, 3, 1, 2), 2)
    return img.round().clamp(0, 255).to(torch.uint8)


def _ell(X, Y, cx, cy, ax, ay):
    """Inside-ness of an ellipse per pixel: ((X−cx)/ax)² + ((Y−cy)/ay)² (N×H×W); params are length-N tensors."""
    v = (lambda t: t[:, None, None])
    return ((X - v(cx)) / v(ax)) ** 2 + ((Y - v(cy)) / v(ay)) ** 2


def _soft(d: torch.Tensor, px: float) -> torch.Tensor:
    """Coverage of a shape whose signed distance-like value d is < 0 inside (smoothed over about a pixel)."""
    return (0.5 - d / px).clamp(0, 1)


def render_frames(idp: Dict[str, torch.Tensor], pose: Dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Frames (uint8 N×3×size×size) of N (identity, pose) rows; edges anti-aliased over about a pixel."""
    px = 1.0 / size
    grid = _grid(size)
    g = _features(idp, pose)
    v = (lambda t: t[:, None, None])
    c, s = torch.cos(pose["roll"]), torch.sin(pose["roll"])
    u0, w0 = grid[..., 0][None] - 0.5, grid[..., 1][None] - 0.54
    X = v(c) * u0 + v(s) * w0  # image -> face frame (inverse roll)
    Y = -v(s) * u0 + v(c) * w0
    col = (lambda t: t[:, :, None, None])
    # background: two colours in stripes (identity texture)
    proj = grid[..., 0][None] * v(torch.cos(idp["bg_angle"])) + grid[..., 1][None] * v(torch.sin(idp["bg_angle"]))
    t = 0.5 + 0.5 * torch.sin(v(idp["bg_freq"]) * proj)
    img = col(idp["bg1"]) * (1 - 0.35 * t[:, None]) + col(idp["bg2"]) * 0.35 * t[:, None]

    def paint(mask, colour):
        nonlocal img
        m = mask[:, None]
        img = img * (1 - m) + colour * m

    hair_tex = 0.85 + 0.15 * torch.sin(v(idp["hair_freq"]) * (X + 0.3 * Y))[:, None]
    hair_col = col(idp["hair"]) * hair_tex
    fw, fh = g["face_w"], idp["face_h"]
    long = (idp["hair_style"] == 1).float()
    back = _ell(X, Y, g["face_cx"] * 0.5, fh * 0.05, fw * 1.3, fh * 1.15) - 1
    paint(_soft(back, px / fw.mean()) * v(long) * (Y < v(fh * 0.75)).float(), hair_col)
    face = _ell(X, Y, g["face_cx"], torch.zeros_like(fw), fw, fh) - 1
    shade = 1 - 0.18 * (X - v(g["face_cx"])) / v(fw) * v(pose["yaw"])
    paint(_soft(face, 2 * px / fw.mean()), col(idp["skin"]) * shade[:, None])
    cap = _ell(X, Y, g["face_cx"], -fh * 0.12, fw * 1.1, fh * 0.98) - 1
    line = v(idp["hairline"] * fh) + (idp["hair_style"] == 2).float()[:, None, None] * 0.05 * torch.cos(X * 30)
    paint(_soft(cap, px / fw.mean()) * (0.5 - (Y - line) / px).clamp(0, 1), hair_col)
    dark = col(idp["skin"]) * 0.6
    # brows, nose, eyes, mouth
    for ex in (g["eye_lx"], g["eye_rx"]):
        d = ((X - v(ex)) / v(g["eye_rw"] * 1.3)).abs().clamp(max=1.0e3)
        brow = ((Y - v(g["brow_y"]) + 0.012 * (1 - d.clamp(max=1) ** 2)).abs() - v(idp["brow_t"]) / 2)
        paint(_soft(brow, px) * (d <= 1).float(), col(idp["hair"]) * 0.8)
        white = _ell(X, Y, ex, g["eye_y"], g["eye_rw"], g["eye_rh"]) - 1
        paint(_soft(white, 0.15), torch.ones_like(col(idp["skin"])) * 0.96)
        iris = ((X - v(ex + 0.3 * pose["yaw"] * g["eye_rw"])) ** 2 + (Y - v(g["eye_y"])) ** 2).sqrt()
        inside = _soft(white, 0.15)
        paint(_soft(iris - v(g["eye_rw"] * 0.55), px) * inside, col(idp["eye"]))
        paint(_soft(iris - v(g["eye_rw"] * 0.25), px) * inside, torch.zeros_like(col(idp["eye"])) + 0.05)
        rim = (((X - v(ex)) ** 2 + (Y - v(g["eye_y"])) ** 2).sqrt() - v(idp["eye_r"] * 1.55)).abs() - 0.006
        paint(_soft(rim, px) * v(idp["glasses"]), torch.zeros_like(dark) + 0.08)
    nose = torch.maximum((X - v(g["nose_x"])).abs() - 0.006,
                         torch.maximum(v(g["nose_top"] + 0.01) - Y, Y - v(g["nose_tip"])))
    paint(_soft(nose, px), dark)
    nbase = torch.maximum((Y - v(g["nose_tip"])).abs() - 0.006, (X - v(g["nose_x"])).abs() - 0.022 * v(g["squash"]))
    paint(_soft(nbase, px), dark)
    lips = _ell(X, Y, g["mouth_x"], g["mouth_y"], g["mouth_w"], g["mouth_h"] + 0.012) - 1
    paint(_soft(lips, 0.2), torch.tensor([0.75, 0.2, 0.25])[None, :, None, None] * 0.9)
    inner = _ell(X, Y, g["mouth_x"], g["mouth_y"], g["mouth_w"] * 0.75, g["mouth_h"]) - 1
    paint(_soft(inner, 0.2), torch.tensor([0.25, 0.02, 0.05])[None, :, None, None])
    return (img * 255).round().clamp(0, 255).to(torch.uint8)


def render(idp, pose, size: int, chunk: int = 256) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(frames uint8 N×3×S×S, landmark images uint8 N×3×S×S, landmarks N×68×2 in pixels) of N rows."""
    points = _to_image(face_landmarks(idp, pose), pose["roll"]) * size
    frames = torch.cat([render_frames({k: v[i : i + chunk] for k, v in idp.items()},
                                      {k: v[i : i + chunk] for k, v in pose.items()}, size)
                        for i in range(0, len(points), chunk)])
    return frames, rasterize_landmarks(points, size), points


# -------------------------------------------------------------------------------------------- datasets


def make_videos(cfg: TalkingHeadsConfig) -> TensorDataset:
    """The procedural talking-head videos of `cfg` (see the module docstring for the layout)."""
    n_id, vpi, t = cfg.identities, cfg.videos_per_identity, cfg.frames
    idp = identity_params(cfg.seed, cfg.split, n_id)
    pose = pose_trajectories(cfg.seed, cfg.split, n_id * vpi, t)
    identity = torch.arange(n_id).repeat_interleave(vpi * t)
    rows = {k: v[identity] for k, v in idp.items()}
    frames, lm, points = render(rows, {k: v.reshape(-1) for k, v in pose.items()}, cfg.resolution)
    video = torch.arange(n_id * vpi).repeat_interleave(t)
    info = DataInfo(shape=(3, cfg.resolution, cfg.resolution), num_classes=n_id * vpi,
                    target_shape=(3, cfg.resolution, cfg.resolution), paired=True)
    return TensorDataset(frames, video, attrs={"frame": torch.arange(t).repeat(n_id * vpi), "identity": identity,
                                               "points": points}, info=info, target=lm)


def _validate(cfg: TalkingHeadsConfig) -> None:
    if cfg.split not in ("train", "test"):
        raise ConfigError(f"data.split must be train or test, got {cfg.split!r}")
    if cfg.resolution % 8 or not 16 <= cfg.resolution <= 128:
        raise ConfigError(f"data.resolution must be a multiple of 8 from 16 to 128, got {cfg.resolution}")
    if cfg.identities < 1 or cfg.videos_per_identity < 1 or cfg.frames < 2:
        raise ConfigError("data.identities and data.videos_per_identity must be ≥ 1 and data.frames ≥ 2, got "
                          f"{cfg.identities}, {cfg.videos_per_identity}, {cfg.frames}")


@DATASETS.register("talking-heads", TalkingHeadsConfig)
def build_talking_heads(cfg: TalkingHeadsConfig) -> TensorDataset:
    _validate(cfg)
    return load_folder(cfg.path, cfg.resolution) if cfg.path else make_videos(cfg)


# -------------------------------------------------------------------------------------------- users' folders


def read_landmarks(path: str) -> np.ndarray:
    """68 × 2 landmark positions (pixels) from a text file of 68 lines ``x y``."""
    try:
        pts = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a landmark file of 68 lines 'x y' ({str(e).splitlines()[0]})") from None
    if pts.shape != (N_POINTS, 2) or not np.isfinite(pts).all():
        raise DataError(f"{path}: expected 68 lines of 2 finite numbers 'x y', got an array of shape {pts.shape}")
    return pts


def _frame_files(folder: str) -> List[str]:
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTS))


def read_frames(folder: str, size: int, need_images: bool = True) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """One video folder -> (frames uint8 N×3×size×size or None, landmarks N×68×2 in pixels of `size`).

    Frames: NAME.png|jpg… with NAME.txt beside each. With `need_images` False a folder of landmark files alone is
    read (a driving sequence). All frames must be square and of one size; they are resized to `size`."""
    from PIL import Image

    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder of frames")
    images = _frame_files(folder)
    texts = sorted(f for f in os.listdir(folder) if f.endswith(".txt"))
    if not images and not texts:
        raise DataError(f"{folder}: no frames (.png/.jpg) and no landmark files (.txt)")
    if not images:
        if need_images:
            raise DataError(f"{folder}: {len(texts)} landmark files but no frame images (.png/.jpg)")
        pts = np.stack([read_landmarks(os.path.join(folder, t)) for t in texts])
        scale = size / _landmark_frame_size(folder)
        return None, torch.tensor(_inside(pts * scale, size, folder), dtype=torch.float32)
    stems = [os.path.splitext(f)[0] for f in images]
    missing = [s for s in stems if not os.path.isfile(os.path.join(folder, s + ".txt"))]
    if missing:
        raise DataError(f"{folder}: {len(missing)} of {len(images)} frames have no landmark file, e.g. "
                        f"{missing[0]}.txt (each frame NAME.png needs NAME.txt with 68 lines 'x y')")
    if len(texts) != len(images):
        raise DataError(f"{folder}: {len(images)} frames but {len(texts)} landmark files; they must pair up by name")
    frames, pts, first = [], [], None
    for f, stem in zip(images, stems):
        try:
            with Image.open(os.path.join(folder, f)) as im:
                im = im.convert("RGB")
        except OSError:
            raise DataError(f"{os.path.join(folder, f)}: not a readable image") from None
        if im.width != im.height or (first is not None and im.size != first):
            raise DataError(f"{os.path.join(folder, f)}: frames must be square and all of one size, got "
                            f"{im.width}×{im.height}" + (f" after {first[0]}×{first[1]}" if first else ""))
        first = im.size
        frames.append(np.asarray(im.resize((size, size), Image.BILINEAR)))
        pts.append(read_landmarks(os.path.join(folder, stem + ".txt")) * size / im.width)
    x = torch.from_numpy(np.stack(frames).transpose(0, 3, 1, 2).copy())
    return x, torch.tensor(_inside(np.stack(pts), size, folder), dtype=torch.float32)


def _inside(pts: np.ndarray, size: int, folder: str) -> np.ndarray:
    """Landmarks (N×68×2, pixels of a size×size frame) that lie near the frame; a DataError otherwise (a point
    far outside is a damaged file, and drawing its lines would take memory without bound)."""
    bad = np.abs(pts - size / 2).max(axis=(1, 2)) > 2 * size
    if bad.any():
        raise DataError(f"{folder}: the landmarks of frame {int(np.argmax(bad))} lie far outside the frame "
                        f"(beyond twice its width from its centre): a damaged landmark file, or a wrong frame_size")
    return pts


def _landmark_frame_size(folder: str) -> float:
    """The width of the frames that landmark-only files refer to: the number in the file ``frame_size``."""
    p = os.path.join(folder, "frame_size")
    if os.path.isfile(p):
        try:
            width = float(open(p, encoding="utf-8", errors="replace").read().split()[0])
        except (ValueError, IndexError):
            width = float("nan")
        if not math.isfinite(width) or width <= 0:
            raise DataError(f"{p}: expected one positive number, the width in pixels of the frames the landmarks "
                            f"refer to")
        return width
    raise DataError(f"{folder}: landmark files without frames need a file 'frame_size' holding the frames' width "
                    f"in pixels (the landmarks' scale)")


def load_folder(path: str, size: int) -> TensorDataset:
    """A folder of videos (sub-folders) or one video (frames directly inside) as a talking-heads dataset."""
    if not os.path.isdir(path):
        raise DataError(f"data.path {path!r} is not a folder")
    subs = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    folders = [os.path.join(path, d) for d in subs] if subs and not _frame_files(path) else [path]
    xs, pts, video = [], [], []
    for i, f in enumerate(folders):
        x, p = read_frames(f, size)
        xs.append(x)
        pts.append(p)
        video.append(torch.full((len(x),), i, dtype=torch.long))
    points = torch.cat(pts)
    info = DataInfo(shape=(3, size, size), num_classes=len(folders), target_shape=(3, size, size), paired=True)
    vid = torch.cat(video)
    frame = torch.cat([torch.arange(len(v)) for v in video])
    return TensorDataset(torch.cat(xs), vid, attrs={"frame": frame, "identity": vid, "points": points}, info=info,
                         target=rasterize_landmarks(points, size))


def write_folder(folder: str, frames: torch.Tensor, points: torch.Tensor, prefix: str = "frame") -> List[str]:
    """Write frames (uint8 N×3×H×W) and their landmarks (N×68×2 pixels) in the users' folder format."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    names = []
    for i, (x, p) in enumerate(zip(frames, points)):
        stem = os.path.join(folder, f"{prefix}_{i:04d}")
        Image.fromarray(x.permute(1, 2, 0).numpy()).save(stem + ".png")
        np.savetxt(stem + ".txt", p.numpy(), fmt="%.3f")
        names.append(stem + ".png")
    return names

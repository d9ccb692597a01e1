"""Few-shot talking heads: meta-learning, fine-tuning and the feed-forward model (Zakharov, Shysheya, Burkov &
Lempitsky, "Few-Shot Adversarial Learning of Realistic Neural Talking Head Models", ICCV 2019, §3.2-3.4).

**Meta-learning** (§3.2; method ``talking-head``, one Trainer step per iteration): B episodes, each a video i,
a target frame t and K other frames s_1..s_K of the same video (K + 1 frames). The embedder gives
ê_i = mean_k E(x_i(s_k), y_i(s_k)) (Eq. 1), the generator x̂_i(t) = G(y_i(t), P ê_i) (Eq. 2), and

* E, G minimise L_CNT + L_ADV + L_MCH (Eq. 3), with
  - L_CNT: content loss, λ_pix·L1(x, x̂) + λ_feat·Σ_l w_l·L1(F_l(x), F_l(x̂)); the paper uses VGG19 and VGGFace
    features (weights 1e-2, 2e-3), neither available offline: F is the shipped shapes evaluator's conv stack
    (``EvaluatorFeatures``, also pix2pixHD's offline perceptual net) plus a pixel L1 term;
  - L_ADV = −D(x̂, y, i) + λ_FM·L_FM (Eq. 4), L_FM = Σ_j mean |D_j(x) − D_j(x̂)| over D's block outputs, λ_FM 10;
  - L_MCH = λ_MCH·mean |W_i − ê_i| (λ_MCH 80; the mean over the embedding dimensions instead of the paper's sum
    keeps the weight independent of the embedding size). Its gradient reaches both E and W: the E/G optimiser also
    holds W (at the E/G learning rate).
* D minimises the hinge loss max(0, 1 + D(x̂)) + max(0, 1 − D(x)) (Eq. 6), `d_steps` updates (paper: 2) per E/G
  update on the same episode.

**Fine-tuning** (§3.4; :func:`fine_tune`): for a new person with T frames, ê_NEW = mean E(frames), the
generator G' starts from the meta-learned G with free AdaIN parameters ψ' = P ê_NEW, the discriminator D' from D
with w' = w_0 + ê_NEW (the score is V(x, y)ᵀw' + b); both are trained on L_CNT + L_ADV (no L_MCH) and the hinge
loss. **Feed-forward** (§4 "FF"): G(y, P ê_NEW) with no fine-tuning.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError
from ..models import build_discriminator, build_generator
from ..models.talking_head import build_embedder
from ..registry import METHODS
from .base import Method
from .standard import adam


@dataclass
class TalkingHeadConfig:
    name: str = "talking-head"
    shots: int = 8  # K frames per meta-learning episode (paper: 8)
    lr_eg: float = 5e-5  # E and G (paper)
    lr_d: float = 2e-4  # D (paper)
    betas: Tuple[float, float] = (0.5, 0.999)
    d_steps: int = 2  # D updates per E/G update (paper: 2)
    lambda_pix: float = 100.0  # pixel L1 part of L_CNT (stand-in, see the module docstring; at 10 the adversarial
    # and feature-matching terms dominated and G ignored landmarks and identity)
    lambda_feat: float = 10.0  # perceptual part of L_CNT (paper: 1e-2 VGG19 + 2e-3 VGGFace)
    feature_net: str = "evaluator"  # evaluator (shipped shapes evaluator) | none (pixel L1 only)
    lambda_fm: float = 10.0  # paper
    lambda_mch: float = 80.0  # paper
    # fine-tuning (§3.4): the defaults of api fine-tuning (talking_head_api.fine_tune / `ganforge talking-head`)
    finetune_steps: int = 40
    finetune_batch: int = 8
    finetune_lr_g: float = 5e-4
    finetune_lr_d: float = 2e-4

    def validate(self):
        if self.shots < 1 or self.d_steps < 1 or self.finetune_steps < 0 or self.finetune_batch < 1:
            raise ConfigError(f"method.shots, d_steps and finetune_batch must be ≥ 1 and finetune_steps ≥ 0, got "
                              f"{self.shots}, {self.d_steps}, {self.finetune_batch}, {self.finetune_steps}")
        if self.feature_net not in ("evaluator", "none"):
            raise ConfigError(f"method.feature_net must be evaluator or none, got {self.feature_net!r}")


# ------------------------------------------------------------------------------------------------ losses


def content_loss(fake, real, net: Optional[nn.Module], lambda_pix: float, lambda_feat: float) -> torch.Tensor:
    """L_CNT = λ_pix·mean|x − x̂| + λ_feat·Σ_l w_l·mean|F_l(x) − F_l(x̂)| (F: `net`, its layer weights `net.weights`)."""
    loss = lambda_pix * (fake - real).abs().mean()
    if net is not None and lambda_feat:
        with torch.no_grad():
            real_feats = net(real)
        loss = loss + lambda_feat * sum(w * (f - r).abs().mean() for w, f, r in zip(net.weights, net(fake),
                                                                                     real_feats))
    return loss


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """mean max(0, 1 − r(x)) + mean max(0, 1 + r(x̂)) (paper Eq. 6)."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def feature_matching_loss(fake_feats: List[torch.Tensor], real_feats: List[torch.Tensor]) -> torch.Tensor:
    """L_FM = Σ_j mean |D_j(x) − D_j(x̂)| over the discriminator's block outputs (real ones detached)."""
    return sum((f - r.detach()).abs().mean() for f, r in zip(fake_feats, real_feats))


def adversarial_loss(fake_scores, fake_feats, real_feats, lambda_fm: float) -> torch.Tensor:
    """L_ADV = −mean r(x̂) + λ_FM·L_FM (paper Eq. 4)."""
    return -fake_scores.mean() + lambda_fm * feature_matching_loss(fake_feats, real_feats)


def match_loss(W_i: torch.Tensor, e_hat: torch.Tensor, lambda_mch: float) -> torch.Tensor:
    """L_MCH = λ_MCH·mean |W_i − ê_i| (paper §3.2; mean over dimensions and episodes)."""
    return lambda_mch * (W_i - e_hat).abs().mean()


def feature_net(kind: str) -> Optional[nn.Module]:
    """The fixed content-loss network (frozen), or None."""
    if kind == "none":
        return None
    from .pix2pixhd import EvaluatorFeatures

    return EvaluatorFeatures().eval().requires_grad_(False)


# ------------------------------------------------------------------------------------------------ episodes


class VideoIndex:
    """Where each video's frames lie in a talking-heads dataset (frames of a video are contiguous, `y` is the video
    id), to draw the K other frames of an episode."""

    def __init__(self, dataset):
        y = dataset.y.cpu()
        if y is None or len(y) == 0 or bool((y[1:] < y[:-1]).any()):
            raise DataError("talking-head training needs a talking-heads dataset (frames grouped by video)")
        n = int(y.max()) + 1
        self.count = torch.bincount(y, minlength=n)
        self.start = torch.cumsum(self.count, 0) - self.count
        if int(self.count.min()) < 2:
            raise DataError("every video needs at least 2 frames for meta-learning (K shots + 1 target)")

    def others(self, video: torch.Tensor, frame: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Dataset indices of K frames of each video other than `frame`, from uniforms u (B×K in [0, 1))."""
        video, frame, u = video.cpu(), frame.cpu(), u.cpu()
        c = self.count[video][:, None]
        r = (u * (c - 1)).long().clamp(max=c - 2)  # 0..c-2
        r = r + (r >= frame[:, None]).long()  # skip the target frame
        return self.start[video][:, None] + r


class TalkingHead(Method):
    def __init__(self, cfg: TalkingHeadConfig, generator, discriminator, embedder):
        super().__init__(cfg, generator, discriminator)
        self.embedder = embedder
        self.features = feature_net(cfg.feature_net)
        self._opt: Optional[Dict[str, torch.optim.Optimizer]] = None
        self._index: Optional[VideoIndex] = None

    @classmethod
    def from_config(cls, config, info) -> "TalkingHead":
        if config.generator.embed_dim != config.discriminator.embed_dim:
            raise ConfigError(f"generator.embed_dim ({config.generator.embed_dim}) and discriminator.embed_dim "
                              f"({config.discriminator.embed_dim}) must be equal")
        return cls(config.method, build_generator(config.generator, info), build_discriminator(config.discriminator,
                                                                                               info),
                   build_embedder(config.generator, info))

    def networks(self):
        return {"generator": self.generator, "discriminator": self.discriminator, "embedder": self.embedder}

    def to(self, device):
        super().to(device)
        if self.features is not None:
            self.features.to(device)
        return self

    def set_network(self, name, module):
        super().set_network(name, module)
        if self.features is not None:
            self.features.to(next(module.parameters()).device)

    def optimizers(self):
        if self._opt is None:
            c = self.cfg
            eg = [{"params": list(self.embedder.parameters()) + list(self.generator.parameters())},
                  {"params": [self.discriminator.W]}]  # L_MCH moves W_i towards ê_i
            self._opt = {"eg": torch.optim.Adam(eg, lr=c.lr_eg, betas=tuple(c.betas)),
                         "d": adam(self.discriminator.parameters(), c.lr_d, c.betas)}
        return self._opt

    # -- episodes ---------------------------------------------------------------------------------------------------
    def episode(self, data):
        """(target frames B×3×H×W, their landmarks, video ids, shots B×K×3×H×W, shot landmarks)."""
        dataset = getattr(data, "stream", data).dataset
        if self._index is None:
            self._index = VideoIndex(dataset)
        batch = data.next()
        b, k = len(batch), self.cfg.shots
        idx = self._index.others(batch.y, batch.attrs["frame"], self.sample_uniform(b, k, 0.0, 1.0))
        shots = dataset.get(idx.flatten())
        dev = batch.x.device
        sx = shots.x.to(dev).view(b, k, *batch.x.shape[1:])
        sl = shots.target.to(dev).view(b, k, *batch.x.shape[1:])
        return batch.x, batch.target, batch.y, sx, sl

    # -- the step ---------------------------------------------------------------------------------------------------
    def step(self, data, progress: float) -> Dict[str, torch.Tensor]:
        c, D = self.cfg, self.discriminator
        x, lm, video, sx, sl = self.episode(data)
        e_hat = self.embedder.average(sx, sl)
        fake = self.generator(lm, e_hat)
        for _ in range(c.d_steps):
            d_loss = hinge_d_loss(D(x, lm, video)[0], D(fake.detach(), lm, video)[0])
            self.update(d_loss, "d")
            self.d_steps += 1
        r_fake, fake_feats = D(fake, lm, video)
        with torch.no_grad():
            _, real_feats = D(x, lm, video)
        cnt = content_loss(fake, x, self.features, c.lambda_pix, c.lambda_feat)
        adv = adversarial_loss(r_fake, fake_feats, real_feats, c.lambda_fm)
        mch = match_loss(D.W[video], e_hat, c.lambda_mch)
        self.update(cnt + adv + mch, "eg")
        self.g_steps += 1
        return {"d_loss": d_loss.detach(), "g_cnt": cnt.detach(), "g_adv": adv.detach(), "g_mch": mch.detach()}

    # -- previews: rows of (landmarks, real frame, generated frame) for fixed episodes ---------------------------------
    def preview_inputs(self, dataset, n: int, seed: int):
        index = VideoIndex(dataset)
        videos = torch.arange(min(max(n // 3, 1), len(index.count)))
        g = torch.Generator().manual_seed(seed)
        frame = (torch.rand(len(videos), generator=g) * index.count[videos]).long()
        shots = index.others(videos, frame, torch.rand(len(videos), self.cfg.shots, generator=g))
        tgt = dataset.get(index.start[videos] + frame)
        sh = dataset.get(shots.flatten())
        shape = (len(videos), self.cfg.shots, *tgt.x.shape[1:])
        return tgt.x.cpu(), tgt.target.cpu(), sh.x.cpu().view(shape), sh.target.cpu().view(shape)

    @torch.no_grad()
    def preview(self, generator, inputs):
        x, lm, sx, sl = inputs
        dev = next(generator.parameters()).device
        was = self.embedder.training
        self.embedder.eval()
        e_hat = self.embedder.average(sx.to(dev), sl.to(dev))
        self.embedder.train(was)
        fake = generator(lm.to(dev), e_hat).cpu()
        return torch.stack([lm, x, fake], 1).flatten(0, 1), 6


# ------------------------------------------------------------------------------------------------ fine-tuning


class PersonalHead(nn.Module):
    """A fine-tuned (or feed-forward) model of one person: G' with its own AdaIN parameters ψ'."""

    def __init__(self, generator: nn.Module, psi: torch.Tensor):
        super().__init__()
        self.generator = generator
        self.psi = nn.Parameter(psi.detach().clone().reshape(1, -1))

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        return self.generator(landmarks, psi=self.psi)


def personal_models(embedder, generator, discriminator, frames, landmarks) -> Tuple[PersonalHead, nn.Module,
                                                                                    nn.Parameter]:
    """The paper's fine-tuning initialisation (§3.4): ê_NEW = mean_k E(frames_k, landmarks_k); G' = G with
    ψ' = P·ê_NEW; D' = D with w' = w_0 + ê_NEW. Returns (G' as a PersonalHead, D', w')."""
    with torch.no_grad():
        was = embedder.training
        embedder.eval()
        e_new = embedder.average(frames[None], landmarks[None])[0]
        embedder.train(was)
        psi = generator.psi(e_new[None])[0]
        w = discriminator.w0 + e_new
    head = PersonalHead(copy.deepcopy(generator), psi)
    return head, copy.deepcopy(discriminator), nn.Parameter(w.detach().clone())


def fine_tune(embedder, generator, discriminator, frames, landmarks, cfg: TalkingHeadConfig, steps: int,
              seed: int = 0, features: Optional[nn.Module] = None) -> Tuple[PersonalHead, List[Dict[str, float]]]:
    """Fine-tune G', D' (initialised by :func:`personal_models`) on a new person's T frames (frames, landmarks:
    T×3×H×W in [-1, 1]) for `steps` iterations of `cfg.finetune_batch` frames drawn with replacement: D' by the
    hinge loss (cfg.d_steps updates), G' by L_CNT + L_ADV (no L_MCH, §3.4). steps = 0 is the feed-forward model.
    Returns (G', one record of losses per step)."""
    head, d_prime, w = personal_models(embedder, generator, discriminator, frames, landmarks)
    head.train()
    d_prime.train()
    opt_g = torch.optim.Adam(head.parameters(), lr=cfg.finetune_lr_g, betas=tuple(cfg.betas))
    d_params = [p for n, p in d_prime.named_parameters() if n not in ("W", "w0")] + [w]
    opt_d = torch.optim.Adam(d_params, lr=cfg.finetune_lr_d, betas=tuple(cfg.betas))
    g = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(steps):
        idx = torch.randint(0, len(frames), (cfg.finetune_batch,), generator=g).to(frames.device)
        x, lm = frames[idx], landmarks[idx]
        fake = head(lm)
        for _ in range(cfg.d_steps):
            d_loss = hinge_d_loss(d_prime(x, lm, w=w)[0], d_prime(fake.detach(), lm, w=w)[0])
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        r_fake, fake_feats = d_prime(fake, lm, w=w)
        with torch.no_grad():
            real_feats = d_prime(x, lm, w=w)[1]
        cnt = content_loss(fake, x, features, cfg.lambda_pix, cfg.lambda_feat)
        loss = cnt + adversarial_loss(r_fake, fake_feats, real_feats, cfg.lambda_fm)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        history.append({"d_loss": float(d_loss.detach()), "g_cnt": float(cnt.detach()),
                        "g_loss": float(loss.detach())})
    return head.eval(), history


@METHODS.register("talking-head", TalkingHeadConfig)
class TalkingHeadMethod(TalkingHead):
    pass

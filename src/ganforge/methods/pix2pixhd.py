"""pix2pixHD (Wang, Liu, Zhu, Tao, Kautz, Catanzaro, "High-Resolution Image Synthesis and Semantic Manipulation
with Conditional GANs", CVPR 2018; official NVIDIA/pix2pixHD `models/pix2pixHD_model.py`, `train.py`).

One iteration (official `train.py`): one forward pass of G on the label map (one-hot classes + instance boundary
map + E's instance-averaged features of the real image), then

* loss_G = G_GAN + G_GAN_Feat + G_perceptual:
  - G_GAN: the LSGAN cost (official `no_lsgan` False; `gan_loss: bce` for the sigmoid cross-entropy) of D on
    (label, fake), summed over the D scales;
  - G_GAN_Feat (Eq. 4): Σ_scales Σ_layers≠last (1/num_D)·(4/(n_layers_D+1))·λ_feat·L1(D_k^i(fake), D_k^i(real)),
    the real features detached;
  - G_perceptual: λ·Σ_i w_i·L1(F_i(fake), F_i(real)) — the paper's VGG19 loss (relu1_1 … relu5_1, weights 1/32,
    1/16, 1/8, 1/4, 1) when `perceptual: vgg` and `vgg_weights` names a local safetensors file of torchvision's
    `vgg19.features` (ImageNet weights cannot be downloaded here); `perceptual: evaluator` uses the shipped shapes
    evaluator's four conv layers instead (weights 1/8, 1/4, 1/2, 1 — a deviation from the paper); `none` drops it
    (official `no_vgg_loss`). The config written into the run says which.
* G is updated, then D with loss_D = 0.5·(D_fake + D_real), each summed over scales (fakes detached, no image
  pool: official pool_size 0).

Coarse-to-fine (§3.2) with a local enhancer: G1 alone for `global_steps` iterations on the label map downsampled
once (AvgPool 3/2/1, as G2 feeds G1) against half-resolution targets; then G2 around G1, with G1 frozen for
`fix_global_steps` iterations (official `niter_fix_global`), then all jointly. Each switch gives G a fresh Adam
(as the official separate runs and `update_fixed_params`); D's Adam restarts when G2 arrives. The phase is a
function of the G step count and the stage lives in the generator's buffers, so a resumed run is exact.

With `generator.instance_feat` the encoder E is trained jointly with G (its parameters in G's optimiser); at each
checkpoint the per-class K-means of its instance features (official `encode_features.py`, `n_clusters` 10) over
the first `cluster_n` training samples is refitted into the generator, so `sample_features(labels, instance,
cluster=k)` gives several plausible outputs of one label map.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, GanforgeError
from ..models import build_generator
from ..models.pix2pixhd import (Pix2PixHDGenerator, build_multiscale, downsample, encode_instance_features,
                                fit_feature_clusters)
from ..registry import METHODS
from .standard import adam
from .translation import TranslationMethod, linear_decay, set_lr, triples

PERCEPTUAL = ("none", "evaluator", "vgg")
VGG_SLICES = (2, 7, 12, 21, 30)  # exclusive ends in torchvision vgg19.features: relu1_1 … relu5_1
VGG_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)


@dataclass
class Pix2PixHDConfig:
    name: str = "pix2pixhd"
    lr: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)
    gan_loss: str = "lsgan"  # lsgan (official default) | bce (official no_lsgan)
    feature_matching: bool = True  # D feature matching (official no_ganFeat_loss False)
    lambda_feat: float = 10.0
    perceptual: str = "evaluator"  # none | evaluator (shipped shapes evaluator) | vgg (needs vgg_weights)
    vgg_weights: str = ""  # safetensors of torchvision vgg19 `features.*` (or bare `N.weight`) tensors
    lambda_perceptual: float = 10.0  # official: lambda_feat for the VGG loss too
    global_steps: int = 0  # with a local enhancer: iterations of G1 alone at half resolution
    fix_global_steps: int = 0  # then iterations of G2 with G1 frozen (official niter_fix_global)
    constant_steps: int = 0  # linear lr decay to 0 over decay_steps after constant_steps (official niter/
    decay_steps: int = 0  # niter_decay, in iterations); decay_steps 0 keeps the lr constant
    cluster_n: int = 512  # training samples encoded for the per-class K-means at each checkpoint

    def validate(self):
        if self.gan_loss not in ("lsgan", "bce"):
            raise ConfigError(f"method.gan_loss must be lsgan or bce, got {self.gan_loss!r}")
        if self.perceptual not in PERCEPTUAL:
            raise ConfigError(f"method.perceptual must be one of {PERCEPTUAL}, got {self.perceptual!r}")
        if self.perceptual == "vgg" and not self.vgg_weights:
            raise ConfigError("method.perceptual: vgg needs method.vgg_weights, a local safetensors file of VGG19 "
                              "ImageNet weights (none can be downloaded); or use perceptual: evaluator | none")
        for key in ("lr", "lambda_feat", "lambda_perceptual", "global_steps", "fix_global_steps",
                    "constant_steps", "decay_steps", "cluster_n"):
            if getattr(self, key) < 0:
                raise ConfigError(f"method.{key} must be ≥ 0, got {getattr(self, key)}")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")


# ------------------------------------------------------------------------------------------------ losses
def gan_loss(preds: List[torch.Tensor], real: bool, kind: str = "lsgan") -> torch.Tensor:
    """Official `GANLoss` on a multi-scale D: Σ_scales mean cost of the scale's logit map against 1 (real) or 0."""
    total = 0.0
    for p in preds:
        target = torch.ones_like(p) if real else torch.zeros_like(p)
        total = total + (F.mse_loss(p, target) if kind == "lsgan" else
                         F.binary_cross_entropy_with_logits(p, target))
    return total


def feature_matching_loss(fake_feats, real_feats, n_layers_d: int, weight: float = 10.0) -> torch.Tensor:
    """Eq. 4, official weights: Σ_scales Σ_layers except the logits (1/num_D)·(4/(n_layers_D+1))·weight·
    L1(fake, real.detach())."""
    num_d = len(fake_feats)
    w = weight * (1.0 / num_d) * (4.0 / (n_layers_d + 1))
    total = 0.0
    for f_scale, r_scale in zip(fake_feats, real_feats):
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            total = total + w * F.l1_loss(f, r.detach())
    return total


class VGG19Features(nn.Module):
    """torchvision's `vgg19().features` up to relu5_1 (layer indices kept, so its state dict loads), returning
    relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (official `Vgg19`; images fed as they are, in [-1, 1])."""

    weights = VGG_WEIGHTS

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers[:VGG_SLICES[-1]])

    @staticmethod
    def from_file(path: str) -> "VGG19Features":
        from ..utils.safeio import read_tensors

        try:
            state = read_tensors(path)
        except (OSError, ValueError, GanforgeError) as err:
            raise ConfigError(f"method.vgg_weights: cannot read {path!r} ({err})") from None
        state = {(k if k.startswith("features.") else f"features.{k}"): v for k, v in state.items()}
        net = VGG19Features()
        own = net.state_dict()
        state = {k: v for k, v in state.items() if k in own}
        missing = [k for k in own if k not in state]
        if missing:
            raise ConfigError(f"method.vgg_weights: {path!r} lacks VGG19 tensors {missing[:3]}…")
        net.load_state_dict(state)
        return net.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        outs, start = [], 0
        for end in VGG_SLICES:
            x = self.features[start:end](x)
            outs.append(x)
            start = end
        return outs


class EvaluatorFeatures(nn.Module):
    """The shipped shapes evaluator's conv layers (after each ReLU) as a perceptual feature extractor: the stand-in
    for VGG19 that works offline. Images are resized to its 32² input without quantisation (gradients flow)."""

    def __init__(self):
        super().__init__()
        from ..metrics.evaluator import load_evaluator

        self.net = load_evaluator("shapes", quantize=False)
        relus = sum(isinstance(m, nn.ReLU) for m in self.net.trunk)
        self.weights = tuple(2.0 ** (i - relus + 1) for i in range(relus))  # …, 1/4, 1/2, 1 as VGG's ladder

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        h, outs = self.net.preprocess(x), []
        for m in self.net.trunk:
            h = m(h)
            if isinstance(m, nn.ReLU):
                outs.append(h)
        return outs


def perceptual_loss(net: nn.Module, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Σ_i w_i·L1(F_i(fake), F_i(real).detach()) (official `VGGLoss`)."""
    with torch.no_grad():
        real_feats = net(real)
    return sum(w * F.l1_loss(f, r) for w, f, r in zip(net.weights, net(fake), real_feats))


# ------------------------------------------------------------------------------------------------ the recipe
class Pix2PixHD(TranslationMethod):
    """pix2pixHD (Wang et al., CVPR 2018): see the module docstring."""

    def __init__(self, cfg: Pix2PixHDConfig, generator: Pix2PixHDGenerator, discriminator):
        super().__init__(cfg, generator, discriminator)
        if cfg.global_steps and not generator.local_enhancers:
            raise ConfigError("method.global_steps is the coarse stage of a local enhancer: set "
                              "generator.local_enhancers: 1 (or global_steps: 0)")
        self._opt, self._opt_phase = None, None
        self._perceptual: Optional[nn.Module] = None
        self._dataset = None

    @classmethod
    def from_config(cls, config, info) -> "Pix2PixHD":
        if not (info.two_domain and info.paired and info.mask_classes):
            raise ConfigError("pix2pixhd learns from pairs of label maps and images: it needs paired label-map data "
                              "(data.name: shapes-labels), not unpaired or unlabelled data; for unpaired domains "
                              "use cyclegan or discogan")
        g = build_generator(config.generator, info)
        if not isinstance(g, Pix2PixHDGenerator):
            raise ConfigError("method pix2pixhd needs generator.name: pix2pixhd")
        if config.discriminator.name != "multiscale-patchgan":
            raise ConfigError("method pix2pixhd needs discriminator.name: multiscale-patchgan (num_d: 1 for a "
                              "single scale)")
        d = build_multiscale(config.discriminator, info, in_channels=g.cond_channels + info.target_shape[0])
        return cls(config.method, g, d)

    # -- phases and optimisers ---------------------------------------------------------------------------------------
    def phase(self, g_steps: Optional[int] = None) -> str:
        """global (G1 alone) | fixed (G2, G1 frozen) | joint — a function of the G step count."""
        s, c = self.g_steps if g_steps is None else g_steps, self.cfg
        if not self.generator.local_enhancers:
            return "joint"
        if s < c.global_steps:
            return "global"
        return "fixed" if s < c.global_steps + c.fix_global_steps else "joint"

    def _g_params(self, phase: str):
        g = self.generator
        enc = list(g.encoder.parameters()) if g.encoder is not None else []
        if phase == "global":
            return list(g.net.global_net.parameters()) + enc
        if phase == "fixed":
            return g.net.local_parameters() + enc
        return list(g.net.parameters()) + enc

    def optimizers(self):
        phase, c = self.phase(), self.cfg
        if self._opt is None or phase != self._opt_phase:
            d_opt = None if self._opt is None or self._opt_phase == "global" else self._opt["d"]
            self._opt = {"g": adam(self._g_params(phase), c.lr, c.betas),
                         "d": d_opt or adam(self.discriminator.parameters(), c.lr, c.betas)}
            self._opt_phase = phase
        return self._opt

    def _sync_phase(self) -> str:
        phase = self.phase()
        g = self.generator
        if g.local_enhancers:
            g.set_stage("global" if phase == "global" else "local")
            g.net.global_net.requires_grad_(phase != "fixed")
        opts = self.optimizers()
        if self.cfg.decay_steps:
            lr = self.cfg.lr * linear_decay(self.g_steps, self.cfg.constant_steps, self.cfg.decay_steps)
            for opt in opts.values():
                set_lr(opt, lr)
        return phase

    def perceptual(self, device) -> Optional[nn.Module]:
        kind = self.cfg.perceptual
        if kind == "none":
            return None
        if self._perceptual is None:
            self._perceptual = VGG19Features.from_file(self.cfg.vgg_weights) if kind == "vgg" \
                else EvaluatorFeatures()
        return self._perceptual.to(device)

    # -- one iteration -------------------------------------------------------------------------------------------------
    def inputs(self, batch, phase: str):
        """(D's condition map, G's input map, real images) at the resolution the phase trains."""
        g = self.generator
        labels, inst, real = batch.mask, batch.attrs.get("instance"), batch.target
        cond = g.condition(labels, inst)
        g_in = cond if g.encoder is None else torch.cat([cond, g.encode(real, labels, inst)], 1)
        if phase == "global":
            return downsample(cond), downsample(g_in), F.avg_pool2d(real, 2)
        return cond, g_in, real

    def step(self, data, progress: float):
        phase = self._sync_phase()
        c, g, d = self.cfg, self.generator, self.discriminator
        batch = data.next()
        if batch.mask is None or batch.target is None:
            raise ConfigError("pix2pixHD needs paired label-map data (data.name: shapes-labels)")
        cond, g_in, real = self.inputs(batch, phase)
        fake = g.generate_global(g_in) if phase == "global" else g.generate(g_in)

        _, real_feats = d.forward_with_features(torch.cat([cond, real], 1))
        fake_logits_d = d(torch.cat([cond, fake.detach()], 1))
        d.requires_grad_(False)  # G's pass through D needs no gradients of D's weights
        fake_logits, fake_feats = d.forward_with_features(torch.cat([cond, fake], 1))
        d.requires_grad_(True)

        logs = {}
        loss_g = logs["g_gan"] = gan_loss(fake_logits, True, c.gan_loss)
        if c.feature_matching:
            logs["g_feat"] = feature_matching_loss(fake_feats, real_feats, d.n_layers, c.lambda_feat)
            loss_g = loss_g + logs["g_feat"]
        net = self.perceptual(real.device)
        if net is not None:
            logs[f"g_{c.perceptual}"] = c.lambda_perceptual * perceptual_loss(net, fake, real)
            loss_g = loss_g + logs[f"g_{c.perceptual}"]
        self.update(loss_g, "g")
        self.g_steps += 1

        d_real = gan_loss([f[-1] for f in real_feats], True, c.gan_loss)
        d_fake = gan_loss(fake_logits_d, False, c.gan_loss)
        loss_d = 0.5 * (d_fake + d_real)
        self.update(loss_d, "d")
        self.d_steps += 1
        logs = {k: v.detach() for k, v in logs.items()}
        return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(), "d_real": d_real.detach(),
                "d_fake": d_fake.detach(), **logs}

    # -- pictures ------------------------------------------------------------------------------------------------------
    def preview_inputs(self, dataset, n: int, seed: int):
        self._dataset = dataset  # the K-means of E's features reads the training data at each checkpoint
        return super().preview_inputs(dataset, n, seed)

    @torch.no_grad()
    def preview(self, generator: nn.Module, inputs):
        """input | output | target, G fed the data's instance map (and E's features of the target)."""
        device = next(generator.parameters()).device
        b = inputs.to(device)
        feats = generator.encode(b.target, b.mask, b.attrs["instance"]) if generator.encoder is not None else None
        out = generator(b.mask, instance=b.attrs["instance"], features=feats)
        return triples([b.x, out, b.target])

    # -- checkpoints ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def refit_clusters(self, dataset=None) -> bool:
        """Per-class K-means of E's instance features on the first `cluster_n` samples of the data, into the
        generator's buffers. False when there is no encoder or no data."""
        dataset = dataset if dataset is not None else self._dataset
        g = self.generator
        if g.encoder is None or dataset is None or not self.cfg.cluster_n:
            return False
        device = next(g.parameters()).device
        classes, feats, areas = [], [], []
        for start in range(0, min(self.cfg.cluster_n, len(dataset)), 64):
            b = dataset.get(torch.arange(start, min(start + 64, self.cfg.cluster_n, len(dataset)))).to(device)
            cl, f, a = encode_instance_features(g, b.target, b.mask, b.attrs["instance"])
            classes.append(cl), feats.append(f), areas.append(a)
        fit_feature_clusters(g, torch.cat(classes), torch.cat(feats), torch.cat(areas))
        return True

    def state_dict(self) -> dict:
        self.refit_clusters()
        return super().state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.g_steps = int(state["counters"]["g_steps"])  # optimisers are built for the phase of this step count
        self._opt = None
        self._opt_phase = None
        super().load_state_dict(state)


METHODS.register("pix2pixhd", Pix2PixHDConfig)(Pix2PixHD)

"""SRGAN (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network",
CVPR 2017, §2.2–2.3 and §3.2), in two stages kept in the method's state (DESIGN.md §10):

1. **SRResNet-MSE** for the first `pretrain_steps` generator updates: pixel MSE between G(LR) and HR, Adam lr 1e-4
   (`pretrain_lr`), β1 0.9. The discriminator is not touched. The CPU presets raise `pretrain_lr` to 1e-3: they
   have ~10³ updates instead of the paper's 10⁶ (at 1e-4 the held-out MSE after 600 updates is 0.019 vs 0.013).
2. **SRGAN**, initialised from stage 1 (a fresh Adam for G; the paper trains for 10⁵ updates at 1e-4, then 10⁵
   at 1e-5): perceptual loss l_SR = l_X + 10⁻³·l_Gen (Eq. 3) with l_Gen = −log D(G(LR)) (Eq. 6, the
   non-saturating form) and one D step (binary cross-entropy, real HR vs G(LR)) per G step. Both learning rates
   drop ×0.1 at the halfway point of stage 2 (`decay_step`, 0 = halfway between pretrain_steps and the run's
   train.steps).

Content loss l_X, **a documented deviation**: the paper's best variant uses VGG19 φ5,4 feature maps (rescaled by
1/12.75, i.e. ×0.00615 on the squared loss) of the SR and HR images. VGG19 weights cannot be downloaded here, so:

* ``content: mse`` — pixel MSE (the paper's SRGAN-MSE variant, Table 1);
* ``content: features`` — MSE between the last conv feature maps (after BN-ReLU, before pooling: the φ5,4 analogue)
  of an in-house network: `content_net` "auto" takes ``sr-content-photos`` (a patch-source classifier trained on
  the bundled photos' train region by scripts/train_sr_content_net.py) for sr-photos and the shipped ``shapes``
  evaluator for sr-shapes. `content_scale` multiplies the features before the MSE; the paper's 1/12.75 suited VGG
  activations of 0..255 inputs, our BN-ReLU features are O(1), so the default is 1.

The losses use batch means (the paper's l_Gen is a sum over the batch). Everything the stages need (three
optimisers, counters) is in the checkpoint, so a run resumed anywhere — including across the stage boundary —
equals an uninterrupted one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import METHODS
from .standard import adam
from .translation import TranslationMethod, set_lr

CONTENT_NETS = ("auto", "sr-content-photos", "shapes")


@dataclass
class SRGANConfig:
    name: str = "srgan"
    pretrain_steps: int = 1000  # SRResNet-MSE updates before the adversarial stage (10⁶ in the paper)
    content: str = "mse"  # mse | features (see the module docstring: VGG54 is not available offline)
    content_net: str = "auto"  # auto | sr-content-photos | shapes
    content_scale: float = 1.0  # features × this before the MSE (the paper: 1/12.75 for VGG19 activations)
    adv_weight: float = 1e-3  # weight of −log D(G(LR)) in l_SR (Eq. 3)
    lr: float = 1e-4  # both networks in stage 2 (Adam)
    pretrain_lr: float = 1e-4  # G in stage 1 (the paper: 1e-4 for 10⁶ updates; CPU presets use 1e-3 for ~10³)
    betas: Tuple[float, float] = (0.9, 0.999)
    lr_decay: float = 0.1  # stage-2 learning rates × this from decay_step on (1e-4 -> 1e-5 in the paper)
    decay_step: int = 0  # iteration of the drop; 0 = halfway through stage 2

    def validate(self):
        if self.pretrain_steps < 0:
            raise ConfigError(f"method.pretrain_steps must be ≥ 0, got {self.pretrain_steps}")
        if self.content not in ("mse", "features"):
            raise ConfigError(f"method.content must be mse or features, got {self.content!r}")
        if self.content_net not in CONTENT_NETS:
            raise ConfigError(f"method.content_net must be one of {', '.join(CONTENT_NETS)}, got {self.content_net!r}")
        if self.lr <= 0 or not 0 < self.lr_decay <= 1 or self.adv_weight < 0 or self.content_scale <= 0:
            raise ConfigError(f"method.lr must be > 0, lr_decay in (0, 1], adv_weight ≥ 0 and content_scale > 0, "
                              f"got {self.lr}, {self.lr_decay}, {self.adv_weight}, {self.content_scale}")
        if len(self.betas) != 2 or self.decay_step < 0:
            raise ConfigError(f"method.betas needs two values and decay_step ≥ 0, got {self.betas}, "
                              f"{self.decay_step}")


def load_content_net(name: str, device) -> torch.nn.Module:
    """The frozen in-house network whose last feature maps define the `features` content loss."""
    from ..metrics.evaluator import ASSETS_DIR, EvaluatorConfig, EvaluatorError, EvaluatorNet, load_evaluator
    from ..utils.assets import file_sha256, read_asset_card
    from ..utils.safeio import read_tensors

    if name == "shapes":
        return load_evaluator("shapes", device=device, quantize=False)
    weights, card_path = (os.path.join(ASSETS_DIR, f"{name}{ext}") for ext in (".safetensors", ".json"))
    card = read_asset_card(card_path, EvaluatorError, "content network", "python scripts/train_sr_content_net.py")
    if file_sha256(weights) != card["sha256"]:
        raise EvaluatorError(f"{weights} does not match the SHA-256 on its card: reinstall ganforge")
    net = EvaluatorNet(EvaluatorConfig.from_json(card["architecture"]), quantize=False)
    net.load_state_dict(read_tensors(weights), strict=False)
    net.weights_sha256 = card["sha256"]
    return net.to(device).eval().requires_grad_(False)


def content_features(net, x: torch.Tensor) -> torch.Tensor:
    """The last conv feature maps (after BN-ReLU, before pooling) of the content network, differentiable in x."""
    return net.trunk(net.preprocess(x))


@METHODS.register("srgan", SRGANConfig)
class SRGAN(TranslationMethod):
    """SRResNet-MSE pre-training, then SRGAN (Ledig et al. 2017); see the module docstring."""

    def __init__(self, cfg: SRGANConfig, generator, discriminator, total_steps: Optional[int] = None,
                 data_name: str = ""):
        super().__init__(cfg, generator, discriminator)
        self.total_steps = total_steps
        self.data_name = data_name
        self._opt = None
        self._content_net = None

    @classmethod
    def from_config(cls, config, info) -> "SRGAN":
        from ..models import build_discriminator, build_generator

        return cls(config.method, build_generator(config.generator, info),
                   build_discriminator(config.discriminator, info), total_steps=config.train.steps,
                   data_name=config.data.name)

    # -- stages and schedule ------------------------------------------------------------------------------------------
    @property
    def stage(self) -> str:
        """"srresnet" (pixel-MSE pre-training) until pretrain_steps G updates are done, then "srgan"."""
        return "srresnet" if self.g_steps < self.cfg.pretrain_steps else "srgan"

    def decay_at(self) -> Optional[int]:
        c = self.cfg
        if c.decay_step:
            return c.decay_step
        if self.total_steps is None:
            return None
        return c.pretrain_steps + (self.total_steps - c.pretrain_steps) // 2

    def stage2_lr(self) -> float:
        at = self.decay_at()
        return self.cfg.lr * (self.cfg.lr_decay if at is not None and self.g_steps >= at else 1.0)

    # -- owned state ----------------------------------------------------------------------------------------------------
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        if self._opt is None:  # lazily, on the networks' device
            c = self.cfg
            self._opt = {"g_mse": adam(self.generator.parameters(), c.pretrain_lr, c.betas),
                         "g": adam(self.generator.parameters(), c.lr, c.betas),
                         "d": adam(self.discriminator.parameters(), c.lr, c.betas)}
        return self._opt

    def content_net(self):
        if self._content_net is None:
            name = self.cfg.content_net
            if name == "auto":
                name = "shapes" if self.data_name == "sr-shapes" else "sr-content-photos"
            self._content_net = load_content_net(name, next(self.generator.parameters()).device)
        return self._content_net

    def content_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.cfg.content == "mse":
            return F.mse_loss(sr, hr)
        net, s = self.content_net(), self.cfg.content_scale
        with torch.no_grad():
            target = content_features(net, hr) * s
        return F.mse_loss(content_features(net, sr) * s, target)

    # -- one iteration ----------------------------------------------------------------------------------------------------
    def step(self, data, progress: float) -> Dict[str, torch.Tensor]:
        batch = data.next()
        lr_img, hr = batch.x, batch.target
        if self.stage == "srresnet":
            loss = F.mse_loss(self.generator(lr_img), hr)
            self.update(loss, "g_mse")
            self.g_steps += 1
            return {"mse": loss.detach(), "stage": torch.tensor(1.0)}
        opt = self.optimizers()
        lr = self.stage2_lr()
        set_lr(opt["g"], lr)
        set_lr(opt["d"], lr)
        sr = self.generator(lr_img)
        # D: real HR -> 1, G(LR) -> 0 (binary cross-entropy on logits)
        real_logits, fake_logits = self.discriminator(hr), self.discriminator(sr.detach())
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        self.update(d_loss, "d")
        self.d_steps += 1
        # G: l_X + 10⁻³ · (−log D(G(LR)))
        content = self.content_loss(sr, hr)
        adversarial = F.softplus(-self.discriminator(sr)).mean()
        g_loss = content + self.cfg.adv_weight * adversarial
        self.update(g_loss, "g")
        self.g_steps += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "content": content.detach(),
                "adversarial": adversarial.detach(), "mse": F.mse_loss(sr.detach(), hr),
                "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean(), "stage": torch.tensor(2.0)}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["stage"] = {"srgan": int(self.stage == "srgan")}
        return state

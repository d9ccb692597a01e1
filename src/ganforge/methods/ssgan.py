"""The self-supervised GAN (Chen, Zhai, Ritter, Lucic, Houlsby, "Self-Supervised GANs via Auxiliary Rotation
Loss", CVPR 2019, §3 Eqs. 1-2), with the conventions of the official compare_gan `gans/ssgan.py`
(reference/papers-details.md §4):

    L_G = −V(G, D) − α · E_{x∼P_G}    E_{r∼R}[log Q_D(R = r | x^r)]        α = 0.2  (`rotation_weight_g`)
    L_D =  V(G, D) − β · E_{x∼P_data} E_{r∼R}[log Q_D(R = r | x^r)]        β = 1.0  (`rotation_weight_d`)

R = {0°, 90°, 180°, 270°}. Q_D is a linear 4-way head (spectrally normalised when D is) on D's final
representation — the features `forward_with_features` returns, i.e. what D's real/fake layer reads (the SN-ResNet's
sum-pooled φ(x); the DCGAN D's last 4×4 maps, flattened). D is trained on the rotation of **real** images only, G
on the rotation of its **fakes** only; the GAN game V is played on **upright** images only.

Which images are rotated (compare_gan): the last n = rotated_batch / 4 images of the real (D step) or fake (G step)
batch, each by all four angles, labels [0]*n + [1]*n + [2]*n + [3]*n (the 0° class is an un-rotated copy of those n
images), in one D forward of their own. Rotation k is `torch.rot90(x, k, dims=(2, 3))` (counter-clockwise): 90° =
flip_up_down(transpose(x)) and 270° = transpose(flip_up_down(x)), as compare_gan's `rotate_images`. The
cross-entropy is softmax CE (compare_gan adds 1e-10 inside the log; here the exact log-softmax).

Everything else — the GAN costs (non-saturating, hinge, ...), the D steps per G step, the regularisers, class
conditioning — is StandardGAN's: `ssgan` adds the two rotation terms to its two objectives. With both weights 0 it
is exactly `standard` (no rotated forward is run). The head is a network of its own (`rotation_head`): it is in D's
optimiser and in every checkpoint. Logged: `rot_d` (CE on rotated reals), `rot_g` (CE on rotated fakes) and
`rot_acc` (the head's accuracy on the rotated reals of the last D step).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models.base import normal_init
from ..models.resnet import spectral_layers
from ..registry import METHODS
from .standard import StandardConfig, StandardGAN, make_optimizer

ROTATIONS = 4  # 0°, 90°, 180°, 270°


@dataclass
class SSGANConfig(StandardConfig):
    name: str = "ssgan"
    rotation_weight_d: float = 1.0  # β of the paper (compare_gan `weight_rotation_loss_d`)
    rotation_weight_g: float = 0.2  # α of the paper (compare_gan `weight_rotation_loss_g`)
    rotated_batch: int = 0  # rotated images per D forward (4 × the n images rotated); 0: the batch size

    def validate(self):
        super().validate()
        for key in ("rotation_weight_d", "rotation_weight_g"):
            if getattr(self, key) < 0:
                raise ConfigError(f"method.{key} must be ≥ 0, got {getattr(self, key)}")
        if self.rotated_batch < 0 or self.rotated_batch % ROTATIONS:
            raise ConfigError(f"method.rotated_batch must be 0 (the batch size) or a positive multiple of 4, got "
                              f"{self.rotated_batch}")


def rotate(x: torch.Tensor, k: int) -> torch.Tensor:
    """x (N×C×H×W) rotated by k·90° counter-clockwise."""
    return torch.rot90(x, k, dims=(2, 3))


def rotated_batch(x: torch.Tensor, n: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The last n images of x, each rotated by 0°, 90°, 180° and 270° (4n images, angle-major), and their
    rotation labels [0]*n + [1]*n + [2]*n + [3]*n (compare_gan `ssgan.py`)."""
    last = x[-n:]
    images = torch.cat([rotate(last, k) for k in range(ROTATIONS)])
    labels = torch.arange(ROTATIONS, device=x.device).repeat_interleave(n)
    return images, labels


class RotationHead(nn.Module):
    """Q_D: a linear map from D's final features (flattened) to 4 rotation logits (Chen et al. 2019, §3;
    compare_gan `linear(final, 4, use_sn=...)`), spectrally normalised when D is; weights N(0, 0.02)."""

    def __init__(self, in_features: int, spectral_norm: bool):
        super().__init__()
        linear = nn.Linear(in_features, ROTATIONS)
        normal_init(linear)
        self.linear = torch.nn.utils.parametrizations.spectral_norm(linear, eps=1e-12) if spectral_norm else linear

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features.flatten(1))


@torch.no_grad()
def feature_size(discriminator: nn.Module, in_shape) -> int:
    """Size of D's flattened final features, from one forward of a zero image in eval mode (no power iteration,
    no BatchNorm statistics updated, no random numbers drawn); each module's mode is restored."""
    modes = {m: m.training for m in discriminator.modules()}
    discriminator.eval()
    try:
        device = next(discriminator.parameters()).device
        _, h = discriminator.forward_with_features(torch.zeros(1, *in_shape, device=device),
                                                   _probe_labels(discriminator, device))
        if not isinstance(h, torch.Tensor):
            raise ConfigError(f"ssgan reads one final feature tensor from the discriminator; "
                              f"{type(discriminator).__name__} returns a list of layers")
        return h[0].numel()
    finally:
        for m, training in modes.items():
            m.training = training


def _probe_labels(discriminator, device):
    return torch.zeros(1, dtype=torch.long, device=device) if getattr(discriminator, "num_classes", 0) else None


class SSGAN(StandardGAN):
    """StandardGAN's game + the auxiliary rotation losses of Chen et al. 2019 (see the module docstring)."""

    def __init__(self, cfg: SSGANConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        shape = getattr(generator, "out_shape", ())
        if len(shape) != 3:
            raise ConfigError("ssgan rotates images: it needs image data (C×H×W)")
        if shape[1] != shape[2]:
            raise ConfigError(f"ssgan rotates images by 90°: they must be square, got {shape[1]}×{shape[2]}")
        sn = any(True for _ in spectral_layers(discriminator))
        try:
            size = feature_size(discriminator, shape)
        except (AttributeError, NotImplementedError):
            raise ConfigError(f"ssgan needs a discriminator that exposes its features (forward_with_features); "
                              f"{type(discriminator).__name__} does not") from None
        self.rotation_head = RotationHead(size, sn)
        self._rotation_logs: Dict[str, torch.Tensor] = {}

    @classmethod
    def from_config(cls, config, info) -> "SSGAN":
        method = super().from_config(config, info)
        r = config.method.rotated_batch
        if r > ROTATIONS * config.train.batch_size:
            raise ConfigError(f"method.rotated_batch {r} rotates more than the batch's {config.train.batch_size} "
                              f"images by 4 angles: use at most {ROTATIONS * config.train.batch_size}")
        return method

    # -- networks and optimisers: the head trains with D ---------------------------------------------------------
    def networks(self) -> Dict[str, nn.Module]:
        return {**super().networks(), "rotation_head": self.rotation_head}

    def _build_optimizers(self):
        c = self.cfg
        d_params = list(self.discriminator.parameters()) + list(self.rotation_head.parameters())
        self._opt = {"g": make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, c.betas),
                     "d": make_optimizer(c.optimizer, d_params, c.lr_d, c.betas)}

    # -- the rotation task -----------------------------------------------------------------------------------------
    def rotation_loss(self, x: torch.Tensor, y=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy, accuracy) of Q_D on the last n images of x rotated by the four angles; y: their class
        labels for a class-conditional D (tiled like the images)."""
        n = (self.cfg.rotated_batch or x.shape[0]) // ROTATIONS
        if not 1 <= n <= x.shape[0]:
            raise ConfigError(f"method.rotated_batch {self.cfg.rotated_batch} needs {n} images per angle, the batch "
                              f"has {x.shape[0]}")
        images, labels = rotated_batch(x, n)
        y = self.d_labels(y)
        _, h = self.discriminator.forward_with_features(images, y[-n:].repeat(ROTATIONS) if y is not None else None)
        logits = self.rotation_head(h).float()
        return F.cross_entropy(logits, labels), (logits.argmax(1) == labels).float().mean()

    def d_objective(self, real, y, fake, fake_y):
        """StandardGAN's game on upright images + β·CE(rotation | rotated reals) (Eq. 2)."""
        loss, real_scores = super().d_objective(real, y, fake, fake_y)
        if self.cfg.rotation_weight_d:
            ce, acc = self.rotation_loss(real, y)
            loss = loss + self.cfg.rotation_weight_d * ce
            self._rotation_logs.update(rot_d=ce.detach(), rot_acc=acc.detach())
        return loss, real_scores

    def g_objective(self, fake, fake_y, real, y):
        """StandardGAN's G cost on upright fakes + α·CE(rotation | rotated fakes) (Eq. 1)."""
        loss = super().g_objective(fake, fake_y, real, y)
        if self.cfg.rotation_weight_g:
            ce, _ = self.rotation_loss(fake, fake_y)
            loss = loss + self.cfg.rotation_weight_g * ce
            self._rotation_logs["rot_g"] = ce.detach()
        return loss

    def step(self, data, progress: float):
        logs = super().step(data, progress)
        logs.update(self._rotation_logs)
        return logs


METHODS.register("ssgan", SSGANConfig)(SSGAN)

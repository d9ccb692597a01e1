"""Model-level techniques of Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for
Training GANs", NeurIPS 2016 (arXiv 1606.03498), and the networks of its semi-supervised MNIST experiment (§5).

* :class:`MinibatchDiscrimination` (§3.2) and the discriminator ``dcgan-improved`` (DCGAN with it before the logit);
* :class:`VirtualBatchNorm2d` (§3.4) and the generator ``dcgan-vbn`` (DCGAN with VBN instead of BN);
* :class:`SemiSupervisedMLPDiscriminator` / :class:`SemiSupervisedMLPGenerator` (``semisup-mlp``): the paper's MNIST
  models (official ``train_mnist_feature_matching.py``): a K-class classifier whose GAN logit is logsumexp of the
  class logits (§5: D(x) = Z(x)/(Z(x)+1) with the (K+1)-th, "fake" logit fixed at 0).

Where the official code (openai/improved-gan) and the paper differ, the docstrings say which one we follow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, dataset_classes, image_shape
from .dcgan import (DCGANDiscriminator, DCGANDiscriminatorConfig, DCGANGenerator, DCGANGeneratorConfig,
                    _one_hot)


# ----------------------------------------------------------------------------------------------- layers
class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, §3.2).

    For features f(x_i) ∈ R^A: M_i = f(x_i)·T with T ∈ R^{A×B×C}; c_b(x_i, x_j) = exp(−‖M_{i,b} − M_{j,b}‖_L1);
    o(x_i)_b = Σ_{j≠i} c_b(x_i, x_j) + bias_b; the output is [f(x_i), o(x_i)] ∈ R^{A+B}.

    As in the official ``nn.MinibatchLayer``: the sum leaves out j = i (the code adds 1e6 to the diagonal
    distance; we mask it, which is the same up to exp(−1e6)); T is weight-normalised over the input axis,
    T = θ·exp(log_scale)/‖θ‖ with θ ~ N(0, 0.05), log_scale = 0; the bias starts at −1. The official data-dependent
    initialisation is :meth:`data_init` (distances rescaled so that the mean nearest-neighbour L1 distance is 2,
    bias set so that o has zero batch mean); with ``init_on_first_batch`` it runs on the first batch seen in
    training mode (a persistent buffer records that it ran, so a resumed run does not run it again).
    The output of sample i depends on the other samples of its batch: compute D on real and fake batches
    separately (as the paper does).
    """

    def __init__(self, in_features: int, num_kernels: int = 100, kernel_dim: int = 5,
                 init_on_first_batch: bool = True):
        super().__init__()
        self.in_features, self.num_kernels, self.kernel_dim = in_features, num_kernels, kernel_dim
        self.theta = nn.Parameter(torch.randn(in_features, num_kernels, kernel_dim) * 0.05)
        self.log_scale = nn.Parameter(torch.zeros(num_kernels, kernel_dim))
        self.bias = nn.Parameter(torch.full((num_kernels,), -1.0))
        self.init_on_first_batch = init_on_first_batch
        self.register_buffer("initialized", torch.tensor(not init_on_first_batch))

    def weight(self) -> torch.Tensor:
        """T (A×B×C), weight-normalised over the input axis."""
        return self.theta * (self.log_scale.exp() / self.theta.norm(dim=0)).unsqueeze(0)

    def distances(self, f: torch.Tensor) -> torch.Tensor:
        """‖M_{i,b} − M_{j,b}‖_L1 for all pairs: B×N×N."""
        m = torch.einsum("na,abc->bnc", f.flatten(1), self.weight())  # B×N×C
        return torch.cdist(m, m, p=1)

    def similarities(self, f: torch.Tensor) -> torch.Tensor:
        """o(x_i)_b without the bias: Σ_{j≠i} exp(−dist), N×B."""
        d = self.distances(f)
        n = d.shape[-1]
        c = torch.exp(-d) * (1.0 - torch.eye(n, device=d.device, dtype=d.dtype))
        return c.sum(dim=2).t()

    @torch.no_grad()
    def data_init(self, f: torch.Tensor) -> None:
        """The official initialisation from one batch of features (needs at least two samples)."""
        d = self.distances(f)
        d = d + torch.diag(torch.full((d.shape[-1],), float("inf"), device=d.device))
        half_mean_min = 0.5 * d.min(dim=2).values.mean(dim=1)  # B
        self.log_scale.sub_(half_mean_min.clamp_min(1e-12).log().unsqueeze(1))
        self.bias.copy_(-self.similarities(f).mean(dim=0))
        self.initialized.fill_(True)

    def minibatch_features(self, f: torch.Tensor) -> torch.Tensor:
        """o(x_i) (N×B), the bias included; the data init runs here on the first training batch."""
        f = f.flatten(1)
        if self.training and not bool(self.initialized) and f.shape[0] > 1:
            self.data_init(f.detach())
        return self.similarities(f) + self.bias

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        f = f.flatten(1)
        return torch.cat([f, self.minibatch_features(f)], dim=1)


class VirtualBatchNorm2d(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, §3.4), the official formula (``imagenet/model.py``).

    Input: one tensor whose first ``ref_size`` rows are the reference batch and the rest the live examples.
    The reference rows are normalised with the reference statistics (per channel over N, H, W); each live example
    x is normalised with mean = (1/(B+1))·mean(x) + (B/(B+1))·mean(ref) and likewise for the mean square
    (per channel; B = ref_size), i.e. the statistics of the reference batch plus that one example: a live
    example's output never depends on the other live examples. Then y = γ·x̂ + β with γ ~ N(1, 0.02), β = 0,
    std = sqrt(eps + E[x²] − E[x]²), eps 1e-5. No running statistics: train and eval behave the same.
    Gradients flow through the reference statistics too (as in the official TensorFlow graph).
    """

    def __init__(self, num_features: int, ref_size: int, eps: float = 1e-5):
        super().__init__()
        if ref_size < 1:
            raise ConfigError(f"virtual batch norm needs a reference batch of ≥ 1 example, got {ref_size}")
        self.num_features, self.ref_size, self.eps = num_features, ref_size, eps
        self.weight = nn.Parameter(torch.randn(num_features) * 0.02 + 1.0)
        self.bias = nn.Parameter(torch.zeros(num_features))

    def _normalize(self, x, mean, mean_sq):
        std = (mean_sq - mean**2).clamp_min(0).add(self.eps).sqrt()
        return (x - mean) / std

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        ref, live = h[: self.ref_size], h[self.ref_size :]
        ref_mean = ref.mean(dim=(0, 2, 3), keepdim=True)
        ref_sq = (ref**2).mean(dim=(0, 2, 3), keepdim=True)
        new = 1.0 / (self.ref_size + 1.0)
        mean = new * live.mean(dim=(2, 3), keepdim=True) + (1.0 - new) * ref_mean
        mean_sq = new * (live**2).mean(dim=(2, 3), keepdim=True) + (1.0 - new) * ref_sq
        out = torch.cat([self._normalize(ref, ref_mean, ref_sq), self._normalize(live, mean, mean_sq)])
        return out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class GaussianNoise(nn.Module):
    """x + N(0, σ²) in training mode, identity in eval mode (the official ``GaussianNoiseLayer``, used in the
    semi-supervised MNIST discriminator of Salimans et al. 2016, §5). Draws from torch's global RNG, which the
    Trainer seeds and checkpoints."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma > 0 else x


class WNLinear(nn.Module):
    """Weight-normalised linear layer of the official MNIST code (``nn.DenseLayer``, Salimans & Kingma 2016,
    used by Salimans et al. 2016, §5): W = θ·g/‖θ‖ (norm per output unit), θ ~ N(0, 0.1), g = 1 and trained only
    with ``train_scale``; :meth:`data_init` sets g and b so that the pre-activations of one batch have zero mean
    and unit standard deviation."""

    def __init__(self, in_features: int, out_features: int, train_scale: bool = False):
        super().__init__()
        self.theta = nn.Parameter(torch.randn(in_features, out_features) * 0.1)
        self.scale = nn.Parameter(torch.ones(out_features), requires_grad=train_scale)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def pre_bias(self, x: torch.Tensor) -> torch.Tensor:
        return x @ (self.theta * (self.scale / self.theta.norm(dim=0)))

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> torch.Tensor:
        """Set g, b from the batch x and return the layer's (normalised) output on it."""
        a = self.pre_bias(x)
        mean = a.mean(dim=0)
        std = (a - mean).pow(2).mean(dim=0).sqrt().clamp_min(1e-8)
        self.scale.div_(std)
        self.bias.copy_(-mean / std)
        return (a - mean) / std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_bias(x) + self.bias


# ----------------------------------------------------------------------------------------------- DCGAN variants
@dataclass
class DCGANImprovedDiscriminatorConfig(DCGANDiscriminatorConfig):
    name: str = "dcgan-improved"
    minibatch_discrimination: bool = True
    mbd_kernels: int = 100  # B
    mbd_kernel_dim: int = 5  # C
    mbd_data_init: bool = True  # the official data-dependent init on the first training batch
    mbd_input: str = "pooled"  # pooled: D's last features averaged over space (official); flat: all C×4×4 values
    input_noise: float = 0.0  # σ of Gaussian noise added to D's input in training (official MBD models: 0.2, 0.1)

    def validate(self):
        super().validate()
        if self.spectral_norm:
            raise ConfigError("discriminator.spectral_norm is not available with dcgan-improved (minibatch "
                              "discrimination's head is not normalised); use discriminator.name=dcgan")
        if self.input_noise < 0:
            raise ConfigError(f"discriminator.input_noise must be ≥ 0, got {self.input_noise}")
        if self.mbd_input not in ("pooled", "flat"):
            raise ConfigError(f"discriminator.mbd_input must be pooled or flat, got {self.mbd_input!r}")
        if self.mbd_kernels < 1 or self.mbd_kernel_dim < 1:
            raise ConfigError(f"discriminator.mbd_kernels and mbd_kernel_dim must be ≥ 1, got {self.mbd_kernels} "
                              f"and {self.mbd_kernel_dim}")


class MinibatchHead(nn.Module):
    """The DCGAN output layer with minibatch discrimination beside it (Salimans et al. 2016, §3.2): from the last
    hidden features h (N×C×4×4), o(f) is computed on f = h averaged over space (``pooled``: the official CIFAR
    model's GlobalPoolLayer → MinibatchLayer) or on all of h (``flat``), and a linear layer on [h, o] gives the
    logit (N). On the h part this equals DCGAN's 4×4 "valid" output convolution."""

    def __init__(self, channels: int, num_kernels: int, kernel_dim: int, data_init: bool, pooled: bool = True):
        super().__init__()
        self.pooled = pooled
        self.mbd = MinibatchDiscrimination(channels if pooled else channels * 16, num_kernels, kernel_dim, data_init)
        self.linear = nn.Linear(channels * 16 + num_kernels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        o = self.mbd.minibatch_features(h.mean(dim=(2, 3)) if self.pooled else h)
        return self.linear(torch.cat([h.flatten(1), o], dim=1))


class DCGANImprovedDiscriminator(DCGANDiscriminator):
    """DCGAN discriminator (Radford et al. 2016) with minibatch discrimination before the logit (Salimans et al.
    2016, §3.2) and optional Gaussian noise on its input in training (``input_noise``: the official minibatch
    discrimination models add σ = 0.2 (CIFAR-10, ``train_cifar_minibatch_discrimination.py``) or 0.1 (ImageNet)
    to every image D sees). Everything else (conditioning, AC-GAN head, features for feature matching) is
    DCGAN's."""

    def __init__(self, in_shape, channels: int = 64, max_channels: int = 1024, num_classes: int = 0,
                 conditional: str = "none", aux_classes: int = 0, batchnorm: bool = True,
                 minibatch_discrimination: bool = True, mbd_kernels: int = 100, mbd_kernel_dim: int = 5,
                 mbd_data_init: bool = True, mbd_input: str = "pooled", input_noise: float = 0.0):
        super().__init__(in_shape, channels, max_channels, num_classes, conditional, aux_classes, batchnorm)
        self.input_noise = GaussianNoise(input_noise)
        if minibatch_discrimination:
            width = self.out.in_channels
            head = MinibatchHead(width, mbd_kernels, mbd_kernel_dim, mbd_data_init, mbd_input == "pooled")
            nn.init.normal_(head.linear.weight, 0.0, 0.02)
            nn.init.zeros_(head.linear.bias)
            self.out = head  # DCGANDiscriminator.forward_with_features computes self.out(h).flatten()

    def forward_with_features(self, x: torch.Tensor, y=None):
        return super().forward_with_features(self.input_noise(x), y)


@DISCRIMINATORS.register("dcgan-improved", DCGANImprovedDiscriminatorConfig)
def build_dcgan_improved_discriminator(cfg: DCGANImprovedDiscriminatorConfig, info) -> DCGANImprovedDiscriminator:
    k = dataset_classes(info, "a conditional discriminator") if cfg.conditional != "none" or cfg.aux_classifier else 0
    return DCGANImprovedDiscriminator(image_shape(info, "DCGAN"), cfg.channels, cfg.max_channels, k, cfg.conditional,
                                      k if cfg.aux_classifier else 0, cfg.batchnorm, cfg.minibatch_discrimination,
                                      cfg.mbd_kernels, cfg.mbd_kernel_dim, cfg.mbd_data_init, cfg.mbd_input,
                                      cfg.input_noise)


@dataclass
class DCGANVBNGeneratorConfig(DCGANGeneratorConfig):
    name: str = "dcgan-vbn"
    ref_size: int = 64  # examples in the reference batch
    ref_seed: int = 0  # seed of the reference batch's latent codes (fixed once, stored in the checkpoint)

    def validate(self):
        if not self.batchnorm:
            raise ConfigError("generator dcgan-vbn replaces batch norm by virtual batch norm: batchnorm must be true")
        if self.ref_size < 1:
            raise ConfigError(f"generator.ref_size must be ≥ 1, got {self.ref_size}")


class DCGANVBNGenerator(DCGANGenerator):
    """DCGAN generator (Radford et al. 2016) with virtual batch norm instead of batch norm (Salimans et al. 2016,
    §3.4: "used only in the generator network").

    The reference batch is a fixed set of ``ref_size`` latent codes (and labels 0, 1, …, K−1, 0, … for a
    conditional G) drawn once from ``ref_seed`` at construction and kept as buffers (saved with the weights).
    Every forward runs [reference; z] through the network in one pass: each VBN layer normalises the reference
    rows with their own statistics and each live row with reference + itself, and only the live rows are
    returned. Cost: ``ref_size`` extra rows per call. Each sample is a function of its own z only.

    ``feature_layers()`` are identity taps after each ReLU that see the live rows only; a hook that edits a tap's
    output (dissection) edits the live rows and leaves the reference statistics unchanged.
    """

    def __init__(self, out_shape, z_dim: int = 100, channels: int = 64, max_channels: int = 1024,
                 num_classes: int = 0, ref_size: int = 64, ref_seed: int = 0):
        super().__init__(out_shape, z_dim, channels, max_channels, num_classes, batchnorm=True)
        self.ref_size = ref_size
        layers = [VirtualBatchNorm2d(m.num_features, ref_size) if isinstance(m, nn.BatchNorm2d) else m
                  for m in self.net]
        self.net = nn.Sequential(*layers)
        self.taps = nn.ModuleList(nn.Identity() for m in self.net if isinstance(m, nn.ReLU))
        g = torch.Generator().manual_seed(int(ref_seed))
        self.register_buffer("z_ref", torch.randn(ref_size, z_dim, generator=g))
        self.register_buffer("y_ref", torch.arange(ref_size) % num_classes if num_classes else torch.zeros(0).long())

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        n_ref = self.ref_size
        z = torch.cat([self.z_ref.to(z.dtype), z])
        if self.num_classes:
            if y is None:
                raise ValueError("this model is class-conditional: pass the labels y")
            z = torch.cat([z, _one_hot(torch.cat([self.y_ref, y.to(self.y_ref.device)]), self.num_classes, z)], 1)
        h = z.view(z.shape[0], -1, 1, 1)
        taps = iter(self.taps)
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                live = h[n_ref:]
                out = next(taps)(live)
                if out is not live:  # a hook replaced the live activations
                    h = torch.cat([h[:n_ref], out])
        return h[n_ref:]

    def feature_layers(self):
        return {f"layer{i + 1}": tap for i, tap in enumerate(self.taps)}


@GENERATORS.register("dcgan-vbn", DCGANVBNGeneratorConfig)
def build_dcgan_vbn_generator(cfg: DCGANVBNGeneratorConfig, info) -> DCGANVBNGenerator:
    k = dataset_classes(info, "generator.conditional") if cfg.conditional else 0
    return DCGANVBNGenerator(image_shape(info, "DCGAN"), cfg.z_dim, cfg.channels, cfg.max_channels, k, cfg.ref_size,
                             cfg.ref_seed)


# ----------------------------------------------------------------------------------------------- semi-supervised
@dataclass
class SemiSupervisedMLPDiscriminatorConfig:
    name: str = "semisup-mlp"
    hidden: Tuple[int, ...] = (1000, 500, 250, 250, 250)
    input_noise: float = 0.3  # σ of the Gaussian noise on the input, on the [0, 1] pixel scale
    hidden_noise: float = 0.5  # σ of the Gaussian noise after each hidden layer

    def validate(self):
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"discriminator.hidden must list positive widths, got {self.hidden}")
        if self.input_noise < 0 or self.hidden_noise < 0:
            raise ConfigError("discriminator.input_noise and hidden_noise must be ≥ 0")


class SemiSupervisedMLPDiscriminator(Discriminator):
    """The semi-supervised classifier/discriminator of Salimans et al. 2016, §5 (MNIST; official
    ``train_mnist_feature_matching.py``): Gaussian noise (σ 0.3 on the input, 0.5 after each hidden layer),
    weight-normalised ReLU layers 784-1000-500-250-250-250 and K = 10 class logits l_1..l_K (weight norm with a
    trained scale).

    A (K+1)-class classifier with the "generated" logit fixed at 0: with Z(x) = Σ_k exp(l_k(x)),
    D(x) = Z(x)/(Z(x)+1), so the GAN logit is log Z(x) = logsumexp_k l_k(x) (what ``forward`` returns) and
    the class posterior among real classes is softmax(l). ``class_logits`` gives l (N×K) for classification;
    ``forward_with_features`` returns the last hidden layer (the official feature-matching layer,
    ``layers[-3]``). Images in [−1, 1] are mapped to the paper's [0, 1] pixel scale first, so σ keeps its
    meaning. ``num_classes`` stays 0: this D is not conditioned on labels, it predicts them (``num_logits``).
    """

    def __init__(self, in_shape, num_logits: int, hidden: Sequence[int] = (1000, 500, 250, 250, 250),
                 input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        self.num_logits = num_logits
        dims = [math.prod(in_shape)] + list(hidden)
        self.input_noise = GaussianNoise(input_noise)
        self.layers = nn.ModuleList(WNLinear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.noises = nn.ModuleList(GaussianNoise(hidden_noise) for _ in hidden)
        self.out = WNLinear(dims[-1], num_logits, train_scale=True)

    def _hidden(self, x: torch.Tensor, init: bool = False) -> torch.Tensor:
        h = self.input_noise((x.flatten(1) + 1.0) * 0.5)
        for i, layer in enumerate(self.layers):
            h = self.noises[i - 1](h) if i else h
            h = F.relu(layer.data_init(h) if init else layer(h))
        return h  # the last hidden layer, before its noise

    def class_logits_and_features(self, x: torch.Tensor):
        h = self._hidden(x)
        return self.out(self.noises[-1](h)), h

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """l_1..l_K (N×K): argmax is the predicted class."""
        return self.class_logits_and_features(x)[0]

    def forward_with_features(self, x: torch.Tensor, y=None):
        logits, h = self.class_logits_and_features(x)
        return torch.logsumexp(logits, dim=1), h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> None:
        """The official data-dependent initialisation (``init_param(trainx[:500])``), in training mode (noise on)."""
        h = self._hidden(x, init=True)
        self.out.data_init(self.noises[-1](h))


@dataclass
class SemiSupervisedMLPGeneratorConfig:
    name: str = "semisup-mlp"
    z_dim: int = 100
    hidden: Tuple[int, ...] = (500, 500)


class SemiSupervisedMLPGenerator(Generator):
    """The generator of the semi-supervised MNIST experiment (Salimans et al. 2016, §5; official
    ``train_mnist_feature_matching.py``): z → [linear → batch norm (shift only) → softplus] × 2 → weight-normalised
    linear (trained scale) → sigmoid, 784 pixels. We return 2·sigmoid − 1 (images live in [−1, 1] here) and draw
    z ~ N(0, I) (the official code draws U(0, 1); the Method contract uses one normal prior everywhere)."""

    def __init__(self, out_shape, z_dim: int = 100, hidden: Sequence[int] = (500, 500)):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        dims = [z_dim] + list(hidden)
        blocks = []
        for a, b in zip(dims[:-1], dims[1:]):
            linear = nn.Linear(a, b, bias=False)
            nn.init.xavier_uniform_(linear.weight)  # Lasagne's default (Glorot uniform)
            bn = nn.BatchNorm1d(b, eps=1e-6)
            bn.weight.requires_grad_(False)  # official batch_norm(..., g=None): no trained gain
            blocks += [linear, bn, nn.Softplus()]
        self.body = nn.Sequential(*blocks)
        self.out = WNLinear(dims[-1], math.prod(self.out_shape), train_scale=True)
        nn.init.xavier_uniform_(self.out.theta)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        return (2.0 * torch.sigmoid(self.out(self.body(z))) - 1.0).view(z.shape[0], *self.out_shape)

    def feature_layers(self):
        return {f"fc{i}": m for i, m in enumerate(self.body) if isinstance(m, nn.Softplus)}


@DISCRIMINATORS.register("semisup-mlp", SemiSupervisedMLPDiscriminatorConfig)
def build_semisup_discriminator(cfg: SemiSupervisedMLPDiscriminatorConfig, info) -> SemiSupervisedMLPDiscriminator:
    k = dataset_classes(info, "the semi-supervised discriminator")
    return SemiSupervisedMLPDiscriminator(info.shape, k, cfg.hidden, cfg.input_noise, cfg.hidden_noise)


@GENERATORS.register("semisup-mlp", SemiSupervisedMLPGeneratorConfig)
def build_semisup_generator(cfg: SemiSupervisedMLPGeneratorConfig, info) -> SemiSupervisedMLPGenerator:
    return SemiSupervisedMLPGenerator(info.shape, cfg.z_dim, cfg.hidden)

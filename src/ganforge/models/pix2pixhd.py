"""pix2pixHD networks (Wang, Liu, Zhu, Tao, Kautz, Catanzaro, "High-Resolution Image Synthesis and Semantic
Manipulation with Conditional GANs", CVPR 2018; official NVIDIA/pix2pixHD `models/networks.py`).

* `get_edges`: the instance boundary map of §3.3 (a pixel is 1 when a 4-neighbour has another instance id).
* `instance_average`: the instance-wise average pooling of §3.4 (every pixel of an instance gets the instance's
  mean feature, per sample and per channel).
* `FeatureEncoder` E (§3.4): an encoder-decoder (official `Encoder`: nef 16, 4 down / 4 up, `feat_num` 3 tanh
  outputs) followed by `instance_average`; its map is concatenated to G's input.
* `GlobalGenerator` G1 (§3.2) is CycleGAN's ResNet translator (`resnet_translator.ResnetTranslator`, n_down 4,
  9 blocks in the paper); `LocalEnhancer` G2 (§3.2, Fig. 3) builds G1 at half resolution with 2·ngf channels, drops
  G1's last three layers (ReflPad, Conv7×7, Tanh), and adds G1's feature map element-wise to its own front end's
  (Conv7×7, Conv3×3 stride 2), then residual blocks, a transposed conv up and Conv7×7 + Tanh.
* `Pix2PixHDGenerator`, registered generator ``pix2pixhd``: builds G's input — one-hot label map + boundary map
  (+ E's features) — from a colour-coded label map (the `shapes-labels` data's `x`) or class ids, an optional
  instance map and optional features; holds E and the per-class K-means centres of E's instance features (§3.4,
  official `encode_features.py`) that `sample_features` draws styles from.
* `MultiscaleDiscriminator`, registered discriminator ``multiscale-patchgan`` (§3.2 "multi-scale
  discriminators"): `num_D` PatchGANs (kernel 4, padding 2); scale i sees the input downsampled i times with
  AvgPool2d(3, 2, 1, count_include_pad=False) and returns every layer's output (for feature matching, Eq. 4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Translator, normal_init
from .patchgan import NORMS as D_NORMS
from .patchgan import PatchGANDiscriminator
from .resnet_translator import NORMS as G_NORMS
from .resnet_translator import ResnetBlock, ResnetTranslator, norm_layer


# ------------------------------------------------------------------------------------------------ maps and pooling
def get_edges(instance: torch.Tensor) -> torch.Tensor:
    """Instance boundary map (§3.3, official `get_edges`): N×H×W (or N×1×H×W) ids -> N×1×H×W float, 1 where any
    4-neighbour belongs to another instance (both pixels of a differing pair are marked), else 0."""
    t = instance if instance.dim() == 4 else instance.unsqueeze(1)
    edge = torch.zeros(t.shape, dtype=torch.bool, device=t.device)
    dx = t[..., :, 1:] != t[..., :, :-1]
    dy = t[..., 1:, :] != t[..., :-1, :]
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge.float()


def instance_average(features: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
    """Instance-wise average pooling (§3.4, official `Encoder.forward`): every pixel of instance k of sample n gets
    the mean of `features[n, c]` over that instance's pixels, per channel c. Differentiable (gradients of the mean
    reach every pixel of the instance); instances of different samples never mix."""
    n, c, h, w = features.shape
    ids = instance.reshape(n, h * w).long()
    if ids.min() < 0:
        raise ValueError("instance ids must be ≥ 0")
    key = ids + torch.arange(n, device=ids.device)[:, None] * (int(ids.max()) + 1)
    _, group = torch.unique(key, return_inverse=True)  # N×HW: the (sample, instance) group of every pixel
    group = group.reshape(-1)
    groups = int(group.max()) + 1
    flat = features.permute(1, 0, 2, 3).reshape(c, n * h * w)
    sums = flat.new_zeros(c, groups).index_add(1, group, flat)
    counts = torch.bincount(group, minlength=groups).to(flat.dtype)
    return (sums / counts)[:, group].reshape(c, n, h, w).permute(1, 0, 2, 3)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """The pix2pixHD downsampler of the multi-scale D and the local enhancer's G1 input:
    AvgPool2d(3, stride 2, padding 1, count_include_pad=False)."""
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


# ------------------------------------------------------------------------------------------------ networks
class FeatureEncoder(nn.Module):
    """E of §3.4 (official `Encoder`): ReflPad3 Conv7×7 nef, n_down × [Conv3×3 s2, ×2], n_down × [ConvT3×3 s2, /2],
    ReflPad3 Conv7×7 → feat_num, Tanh — then instance-wise average pooling over `instance`."""

    def __init__(self, in_channels: int = 3, feat_num: int = 3, nef: int = 16, n_down: int = 4,
                 norm: str = "instance"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, nef, 7), norm_layer(norm, nef), nn.ReLU(True)]
        for i in range(n_down):
            a = nef * 2**i
            layers += [nn.Conv2d(a, 2 * a, 3, 2, 1), norm_layer(norm, 2 * a), nn.ReLU(True)]
        for i in range(n_down):
            a = nef * 2 ** (n_down - i)
            layers += [nn.ConvTranspose2d(a, a // 2, 3, 2, 1, output_padding=1), norm_layer(norm, a // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(nef, feat_num, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.feat_num = feat_num

    def forward(self, image: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        return instance_average(self.model(image), instance)


class LocalEnhancer(nn.Module):
    """G2 of §3.2 around a G1 built at half resolution with 2·ngf channels (official `LocalEnhancer`,
    n_local_enhancers = 1): out = up(front(x) + G1.body(downsample(x))), with front = ReflPad3 Conv7×7 ngf, norm,
    ReLU, Conv3×3 s2 → 2·ngf, norm, ReLU and up = n_blocks × ResnetBlock(2·ngf), ConvT3×3 s2 → ngf, norm, ReLU,
    ReflPad3 Conv7×7 → out, Tanh. `global_net` keeps its own output layer for the coarse stage (G1 alone)."""

    def __init__(self, global_net: ResnetTranslator, in_channels: int, out_channels: int, ngf: int,
                 n_blocks: int = 3, norm: str = "instance"):
        super().__init__()
        if global_net.channels != 2 * ngf:
            raise ValueError("the local enhancer's G1 must have 2·ngf channels")
        self.global_net = global_net
        self.front = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), norm_layer(norm, ngf),
                                   nn.ReLU(True), nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), norm_layer(norm, 2 * ngf),
                                   nn.ReLU(True))
        self.up = nn.Sequential(*[ResnetBlock(2 * ngf, norm) for _ in range(n_blocks)],
                                nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1), norm_layer(norm, ngf),
                                nn.ReLU(True), nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.front(x) + self.global_net.features(downsample(x)))

    def local_parameters(self):
        """G2's own parameters (what the official niter_fix_global phase trains)."""
        return list(self.front.parameters()) + list(self.up.parameters())


STAGES = ("global", "local")


class Pix2PixHDGenerator(Translator):
    """pix2pixHD's G (Wang et al., CVPR 2018, §3.2–3.4): G1 alone (`local_enhancers` 0) or G2 around G1, fed with
    the one-hot label map, the instance boundary map (`instance_map`) and, with `feat_num` > 0, the feature map of
    the instance-wise encoder E.

    `forward(x, instance=None, features=None)`: `x` is a colour-coded label map (N×3×H×W in [-1, 1], as the
    `shapes-labels` data) or class ids (N×H×W integers); `instance` the instance ids (N×H×W; None: the class map
    stands in, so only boundaries between classes are drawn); `features` E's map (N×feat_num×H×W; None: each
    instance gets cluster 0 of its class — see `sample_features` — or zeros before clusters are fitted).
    With a local enhancer in its coarse stage (`stage` "global") G1's half-resolution output is upsampled."""

    takes_instance = True  # forward accepts instance= (the API and evaluation may pass the data's instance map)

    def __init__(self, num_classes: int, out_shape, channels: int = 64, n_down: int = 4, n_blocks: int = 9,
                 local_enhancers: int = 0, n_blocks_local: int = 3, norm: str = "instance",
                 instance_map: bool = True, feat_num: int = 0, nef: int = 16, n_down_e: int = 4,
                 label_feat: bool = False, n_clusters: int = 10):
        super().__init__()
        c_out, h, w = out_shape
        self.num_classes, self.instance_map, self.feat_num = num_classes, instance_map, feat_num
        self.label_feat, self.local_enhancers = label_feat, local_enhancers
        self.in_shape, self.out_shape = (3, h, w), tuple(out_shape)
        self.cond_channels = num_classes + (1 if instance_map else 0)  # what D sees besides the image
        in_ch = self.cond_channels + feat_num
        if local_enhancers:
            if h % 2 or w % 2:
                raise ConfigError(f"the local enhancer needs an even image size, got {h}×{w}")
            g1 = ResnetTranslator((in_ch, h // 2, w // 2), (c_out, h // 2, w // 2), 2 * channels, n_down, n_blocks,
                                  norm)
            self.net = LocalEnhancer(g1, in_ch, c_out, channels, n_blocks_local, norm)
        else:
            self.net = ResnetTranslator((in_ch, h, w), out_shape, channels, n_down, n_blocks, norm)
        self.encoder = FeatureEncoder(c_out, feat_num, nef, n_down_e, norm) if feat_num else None
        normal_init(self)
        self.register_buffer("stage_local", torch.tensor(bool(local_enhancers)))
        self.register_buffer("feat_centers", torch.zeros(num_classes, n_clusters, max(feat_num, 1)))
        self.register_buffer("feat_counts", torch.zeros(num_classes, dtype=torch.long))

    # -- inputs -----------------------------------------------------------------------------------------------------
    def class_ids(self, x: torch.Tensor) -> torch.Tensor:
        """Class ids N×H×W from a colour-coded label map (N×3×H×W) or from ids themselves."""
        if x.dim() == 3 and not x.is_floating_point():
            return x.long()
        if x.dim() == 4 and x.shape[1] == 3:
            from ..data.translation import label_ids_from_colors

            return label_ids_from_colors(x)
        raise ValueError(f"pix2pixHD takes a colour label map N×3×H×W or class ids N×H×W, got {tuple(x.shape)}")

    def condition(self, labels: torch.Tensor, instance: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One-hot label map (+ boundary map of `instance`): N×cond_channels×H×W, the label part of G's and D's
        input (official `encode_input`)."""
        one_hot = F.one_hot(labels.long().clamp(0, self.num_classes - 1), self.num_classes).permute(0, 3, 1, 2)
        one_hot = one_hot.float()
        if not self.instance_map:
            return one_hot
        return torch.cat([one_hot, get_edges(labels if instance is None else instance)], 1)

    def pool_ids(self, labels: torch.Tensor, instance: Optional[torch.Tensor]) -> torch.Tensor:
        """What E's features are averaged over: instances (`instance_feat`) or classes (`label_feat`)."""
        return labels if (self.label_feat or instance is None) else instance

    def encode(self, image: torch.Tensor, labels: torch.Tensor, instance: Optional[torch.Tensor]) -> torch.Tensor:
        """E's instance-averaged feature map of real images."""
        return self.encoder(image, self.pool_ids(labels, instance))

    # -- the networks -----------------------------------------------------------------------------------------------
    @property
    def stage(self) -> str:
        return "local" if bool(self.stage_local) else "global"

    def set_stage(self, stage: str) -> None:
        if stage not in STAGES or (stage == "local" and not self.local_enhancers):
            raise ValueError(f"stage must be one of {STAGES} ('local' needs a local enhancer), got {stage!r}")
        self.stage_local.fill_(stage == "local")

    def generate(self, inputs: torch.Tensor) -> torch.Tensor:
        """G on a ready input map (condition ⊕ features) at full resolution: G1 (or G2 around G1)."""
        return self.net(inputs)

    def generate_global(self, inputs_half: torch.Tensor) -> torch.Tensor:
        """G1 alone on a half-resolution input map (the coarse stage of a local-enhancer generator)."""
        return self.net.global_net(inputs_half)

    def forward(self, x: torch.Tensor, instance: Optional[torch.Tensor] = None,
                features: Optional[torch.Tensor] = None) -> torch.Tensor:
        labels = self.class_ids(x)
        inputs = self.condition(labels, instance)
        if self.encoder is not None:
            if features is None:
                features = sample_features(self, labels, instance, cluster=0)
            inputs = torch.cat([inputs, features.to(inputs)], 1)
        if self.local_enhancers and self.stage == "global":
            out = self.generate_global(downsample(inputs))
            return F.interpolate(out, size=tuple(labels.shape[-2:]), mode="bilinear", align_corners=False)
        return self.generate(inputs)

    def feature_layers(self):
        g1 = self.net.global_net if self.local_enhancers else self.net
        return g1.feature_layers()


# ------------------------------------------------------------------------------------------------ feature styles
def instance_classes(labels: torch.Tensor, instance: torch.Tensor) -> List[Tuple[int, int, int, int]]:
    """(sample, instance id, its class = the most frequent class on its pixels, pixel count) of every instance."""
    out = []
    for b in range(labels.shape[0]):
        ids, counts = torch.unique(instance[b], return_counts=True)
        for i, cnt in zip(ids.tolist(), counts.tolist()):
            cls = torch.mode(labels[b][instance[b] == i]).values.item()
            out.append((b, int(i), int(cls), int(cnt)))
    return out


@torch.no_grad()
def encode_instance_features(generator: Pix2PixHDGenerator, images: torch.Tensor, labels: torch.Tensor,
                             instance: torch.Tensor):
    """E's feature of every instance (official `encode_features`): (classes K, features K×feat_num, area share
    K) where the area share is count / (H·W / 32) as in the official code (kept when > 0.5)."""
    if generator.encoder is None:
        raise ValueError("this pix2pixHD generator has no feature encoder (generator.feat_num = 0)")
    inst = generator.pool_ids(labels, instance)
    feat = generator.encode(images, labels, instance)
    h, w = labels.shape[-2:]
    classes, feats, areas = [], [], []
    for b, i, cls, cnt in instance_classes(labels, inst):
        ys, xs = torch.nonzero(inst[b] == i, as_tuple=True)
        k = len(ys) // 2  # official: the feature at the instance's middle pixel (all pixels share it)
        classes.append(cls)
        feats.append(feat[b, :, ys[k], xs[k]])
        areas.append(cnt / (h * w // 32))
    return torch.tensor(classes), torch.stack(feats).cpu(), torch.tensor(areas)


def fit_feature_clusters(generator: Pix2PixHDGenerator, classes: torch.Tensor, feats: torch.Tensor,
                         areas: Optional[torch.Tensor] = None, min_area: float = 0.5, seed: int = 0) -> None:
    """Per-class K-means (official `encode_features.py`: `n_clusters` 10, instances with area share > 0.5) of
    instance features; the centres, ordered by cluster size (cluster 0 the largest), go into the generator's
    `feat_centers` / `feat_counts` buffers (saved with its checkpoint)."""
    from sklearn.cluster import KMeans

    keep = areas > min_area if areas is not None else torch.ones(len(classes), dtype=torch.bool)
    n_max = generator.feat_centers.shape[1]
    generator.feat_centers.zero_()
    generator.feat_counts.zero_()
    for cls in range(generator.num_classes):
        f = feats[(classes == cls) & keep].double().numpy()
        if len(f) == 0:
            continue
        k = min(n_max, len(np.unique(f.round(6), axis=0)))
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(f)
        order = np.argsort(-np.bincount(km.labels_, minlength=k), kind="stable")
        generator.feat_centers[cls, :k] = torch.as_tensor(km.cluster_centers_[order], dtype=torch.float32)
        generator.feat_counts[cls] = k


def sample_features(generator: Pix2PixHDGenerator, labels: torch.Tensor, instance: Optional[torch.Tensor] = None,
                    cluster=None, rng: Optional[torch.Generator] = None) -> torch.Tensor:
    """A feature map N×feat_num×H×W for a label map (§3.4 "instance-level feature embedding", official
    `sample_features`): every instance is filled with a K-means centre of its class — cluster `cluster` (an int;
    wrapped to the class's cluster count) or, with `cluster=None`, one drawn at random from `rng` per instance.
    Classes without fitted clusters get zeros."""
    labels = generator.class_ids(labels) if labels.dim() == 4 else labels.long()
    inst = generator.pool_ids(labels, instance)
    n, (h, w) = labels.shape[0], labels.shape[-2:]
    out = torch.zeros(n, generator.feat_num, h, w, device=labels.device)
    counts = generator.feat_counts.tolist()
    for b, i, cls, _ in instance_classes(labels, inst):
        if counts[cls] == 0:
            continue
        k = int(torch.randint(counts[cls], (1,), generator=rng)) if cluster is None else int(cluster) % counts[cls]
        where = inst[b] == i
        out[b][:, where] = generator.feat_centers[cls, k][:, None].to(out)
    return out


# ------------------------------------------------------------------------------------------------ discriminator
class MultiscaleDiscriminator(Discriminator):
    """`num_D` PatchGANs (kernel 4, padding 2, `n_layers` stride-2 layers) on 1, 1/2, 1/4 … of the input
    (Wang et al. §3.2; official `MultiscaleDiscriminator` with getIntermFeat). `forward_with_features(x)` gives,
    per scale (scale 0 = full resolution), the list of every layer's output, the last being the logit map."""

    def __init__(self, in_channels: int, channels: int = 64, n_layers: int = 3, num_d: int = 2,
                 norm: str = "instance"):
        super().__init__()
        self.num_d, self.n_layers = num_d, n_layers
        self.scales = nn.ModuleList(PatchGANDiscriminator(in_channels, channels, n_layers, norm, kernel=4,
                                                          padding=2) for _ in range(num_d))

    def forward_with_features(self, x: torch.Tensor, y=None):
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = downsample(x)
            outs.append(d.forward_with_features(x)[1])
        return [o[-1] for o in outs], outs

    def forward(self, x: torch.Tensor, y=None) -> List[torch.Tensor]:
        """The logit map of every scale."""
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = downsample(x)
            outs.append(d(x))
        return outs


# ------------------------------------------------------------------------------------------------ configs
@dataclass
class Pix2PixHDGeneratorConfig:
    name: str = "pix2pixhd"
    channels: int = 64  # ngf of the outermost net (G2 with a local enhancer, whose G1 then has 2·ngf)
    n_down: int = 4  # G1's downsamplings (n_downsample_global)
    n_blocks: int = 9  # G1's residual blocks (n_blocks_global)
    local_enhancers: int = 0  # 0: G1 only (netG global); 1: G2 around G1 (netG local)
    n_blocks_local: int = 3
    norm: str = "instance"  # instance | batch | none
    instance_map: bool = True  # the boundary map input (official no_instance = False)
    instance_feat: bool = False  # E's features pooled over instances (official instance_feat)
    label_feat: bool = False  # E's features pooled over classes (official label_feat)
    feat_num: int = 3
    nef: int = 16
    n_down_e: int = 4
    n_clusters: int = 10

    def validate(self):
        if self.local_enhancers not in (0, 1):
            raise ConfigError(f"generator.local_enhancers must be 0 or 1, got {self.local_enhancers}")
        if self.norm not in G_NORMS:
            raise ConfigError(f"generator.norm must be one of {G_NORMS}, got {self.norm!r}")
        if self.instance_feat and self.label_feat:
            raise ConfigError("generator.instance_feat and generator.label_feat exclude each other")
        for key in ("channels", "feat_num", "nef", "n_clusters"):
            if getattr(self, key) < 1:
                raise ConfigError(f"generator.{key} must be ≥ 1, got {getattr(self, key)}")
        for key in ("n_down", "n_blocks", "n_blocks_local", "n_down_e"):
            if getattr(self, key) < 0:
                raise ConfigError(f"generator.{key} must be ≥ 0, got {getattr(self, key)}")


def _label_classes(info) -> int:
    if not info.two_domain or not info.mask_classes or "instance" not in info.attr_names:
        raise ConfigError("pix2pixHD needs label-map data with class masks and instance maps (data.name: "
                          "shapes-labels)")
    return len(info.mask_classes)


@GENERATORS.register("pix2pixhd", Pix2PixHDGeneratorConfig)
def build_pix2pixhd_generator(cfg: Pix2PixHDGeneratorConfig, info) -> Pix2PixHDGenerator:
    k = _label_classes(info)
    h, w = info.target_shape[1:]
    scale = 2 ** (cfg.n_down + cfg.local_enhancers)
    if h % scale or w % scale or min(h, w) // scale < 2:
        raise ConfigError(f"generator.n_down={cfg.n_down} with {cfg.local_enhancers} local enhancer(s) needs an "
                          f"image size divisible by {scale} and ≥ {2 * scale}, got {h}×{w}")
    if (cfg.instance_feat or cfg.label_feat) and (h % 2**cfg.n_down_e or w % 2**cfg.n_down_e):
        raise ConfigError(f"generator.n_down_e={cfg.n_down_e} needs an image size divisible by "
                          f"{2 ** cfg.n_down_e}, got {h}×{w}")
    feat = cfg.feat_num if (cfg.instance_feat or cfg.label_feat) else 0
    return Pix2PixHDGenerator(k, info.target_shape, cfg.channels, cfg.n_down, cfg.n_blocks, cfg.local_enhancers,
                              cfg.n_blocks_local, cfg.norm, cfg.instance_map, feat, cfg.nef, cfg.n_down_e,
                              cfg.label_feat, cfg.n_clusters)


@dataclass
class MultiscaleConfig:
    name: str = "multiscale-patchgan"
    channels: int = 64  # ndf
    n_layers: int = 3  # n_layers_D (70×70 PatchGAN)
    num_d: int = 2  # official default 2; the paper (and the 1024p scripts) 3
    norm: str = "instance"  # batch | instance | none

    def validate(self):
        if self.norm not in D_NORMS:
            raise ConfigError(f"discriminator.norm must be one of {D_NORMS}, got {self.norm!r}")
        if not 1 <= self.num_d <= 5:
            raise ConfigError(f"discriminator.num_d must be in 1..5, got {self.num_d}")
        if not 1 <= self.n_layers <= 6 or self.channels < 1:
            raise ConfigError(f"discriminator.n_layers must be in 1..6 and channels ≥ 1, got {self.n_layers}, "
                              f"{self.channels}")


@DISCRIMINATORS.register("multiscale-patchgan", MultiscaleConfig)
def build_multiscale(cfg: MultiscaleConfig, info, in_channels: Optional[int] = None) -> MultiscaleDiscriminator:
    """D on concat(condition, image). `in_channels` defaults to one-hot classes + boundary map + target channels
    (pix2pixHD's input); the pix2pixHD method passes its generator's count."""
    if in_channels is None:
        in_channels = _label_classes(info) + 1 + info.target_shape[0]
    return MultiscaleDiscriminator(in_channels, cfg.channels, cfg.n_layers, cfg.num_d, cfg.norm)

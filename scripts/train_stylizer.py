"""Train the default AdaIN style-transfer network that ganforge ships (src/ganforge/assets/stylizer-small.*).

    python scripts/train_stylizer.py                       # small encoder + decoder, ~8 min on one CPU thread
    python scripts/train_stylizer.py --vgg19 vgg19.safetensors --out my-stylizer.safetensors --resolution 128

Huang & Belongie (ICCV 2017) use an ImageNet VGG-19 encoder (fixed) and train only the decoder on MS-COCO content
and WikiArt styles. Neither is available offline here, so the default is a small VGG-like encoder trained in two
phases on bundled data only:

1. Encoder: conv stages 16-16 | 32-32 | 64 (relu1_1, relu2_1, relu3_1 taps) trained as a multi-task classifier —
   shapes' shape/colour/background (seed-0 scenes), MNIST-5k digits (train split), and which of scikit-learn's two
   sample photographs (china.jpg, flower.jpg) a random crop comes from — plus an L1 pixel reconstruction through the
   mirrored decoder. VGG-19 features carry enough to invert them from ImageNet training alone; a 64-channel
   classifier trained for seconds does not (a first version without the reconstruction term decoded shapes with a
   mean |error| of 0.64 on the [-1, 1] scale), so the reconstruction term keeps the relu3_1 features invertible.
   Then frozen, as in the paper.
2. Decoder (the mirrored encoder, started from phase 1's decoder): the paper's loss L_c + λ·L_s, λ = 10, plus an
   identity term that the paper does not have: 10 × the L1 pixel error of g(AdaIN(f(c), f(c))) against c (as in
   later arbitrary-style-transfer work, e.g. SANet's identity loss). Without it the feature-space losses alone left
   the decoder reconstructing content with a mean |error| of 0.19 (shapes) / 0.30 (digits) after 1,500 steps;
   ``--identity-weight 0`` trains the paper's loss only. Content images: shapes, MNIST digits and photo crops;
   style images: photo crops with random channel permutations / inversion (12 colour variants of the two photos
   at many scales) and shapes scenes.

Everything is measured again after saving and reloading, on held-out content (shapes seed 1, MNIST test split,
photo crops from another random stream): the losses and the reconstruction error |g(f(c)) − c| (AdaIN of a content
with itself) go into the JSON card.
"""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data import build_dataset
from ganforge.data.bundled import MNISTConfig
from ganforge.data.shapes import ShapesConfig
from ganforge.stylize.nets import Encoder, StyleTransferNet, StylizerConfig
from ganforge.stylize.weights import default_paths, load_stylizer, load_vgg19_encoder, save_stylizer
from ganforge.stylize.api import reconstruction_error

log = logging.getLogger("train_stylizer")


# ------------------------------------------------------------------------------------------------- data
def sample_photos() -> torch.Tensor:
    """scikit-learn's two bundled photographs as a 2×3×427×640 uint8 tensor."""
    from sklearn.datasets import load_sample_images

    return torch.from_numpy(np.stack(load_sample_images().images)).permute(0, 3, 1, 2).contiguous()


def photo_crops(photos: torch.Tensor, n: int, size: int, gen: torch.Generator, augment: bool = False):
    """(n random square crops of side size…4·size resized to size, in [-1, 1]; which photo each came from).
    With `augment`, colours are permuted and/or inverted at random (style variety from two photos)."""
    _, _, h, w = photos.shape
    out, src = [], torch.randint(0, len(photos), (n,), generator=gen)
    for i in range(n):
        side = int(torch.randint(size, 4 * size + 1, (1,), generator=gen))
        top = int(torch.randint(0, h - side + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - side + 1, (1,), generator=gen))
        crop = photos[src[i], :, top:top + side, left:left + side][None].float()
        out.append(F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True))
    x = torch.cat(out) / 127.5 - 1
    if augment:
        for i in range(n):
            x[i] = x[i][torch.randperm(3, generator=gen)]
            if torch.rand((), generator=gen) < 0.3:
                x[i] = -x[i]
    return x, src


class Pools:
    """The bundled image sets, as float [-1, 1] RGB tensors at `size`."""

    def __init__(self, size: int, split: str):
        seed, n, mnist_split = (0, 4000, "train") if split == "train" else (1, 512, "test")
        shapes = build_dataset(ShapesConfig(resolution=size, n=n, seed=seed))
        mnist = build_dataset(MNISTConfig(resolution=size, split=mnist_split))
        self.shapes = shapes.get(torch.arange(len(shapes)))
        m = mnist.get(torch.arange(len(mnist)))
        self.mnist_x, self.mnist_y = m.x.repeat(1, 3, 1, 1), m.y
        self.photos = sample_photos()
        self.size = size

    def content(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """A third each of shapes scenes, MNIST digits and photo crops."""
        k = n // 3
        a = self.shapes.x[torch.randint(0, len(self.shapes.x), (k,), generator=gen)]
        b = self.mnist_x[torch.randint(0, len(self.mnist_x), (k,), generator=gen)]
        c, _ = photo_crops(self.photos, n - 2 * k, self.size, gen)
        return torch.cat([a, b, c])

    def style(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """Three quarters colour-augmented photo crops, one quarter shapes scenes, shuffled."""
        k = n // 4
        a = self.shapes.x[torch.randint(0, len(self.shapes.x), (k,), generator=gen)]
        c, _ = photo_crops(self.photos, n - k, self.size, gen, augment=True)
        x = torch.cat([a, c])
        return x[torch.randperm(n, generator=gen)]


# ------------------------------------------------------------------------------------------------- phase 1
def train_encoder(pools: Pools, config: StylizerConfig, steps: int, lr: float, gen: torch.Generator,
                  recon_weight: float = 10.0):
    """Pretraining of the small encoder: multi-task classification (heads discarded afterwards) plus pixel
    reconstruction through the mirrored decoder, so that the relu3_1 features keep what a decoder needs. Returns
    (encoder, decoder initialisation, running accuracies, final reconstruction L1)."""
    from ganforge.stylize.nets import Decoder

    enc, dec = Encoder(config).train(), Decoder(config).train()
    c = enc.out_channels
    heads = torch.nn.ModuleDict({"shape": torch.nn.Linear(c, 3), "color": torch.nn.Linear(c, 7),
                                 "background": torch.nn.Linear(c, 3), "digit": torch.nn.Linear(c, 10),
                                 "photo": torch.nn.Linear(c, 2)})
    params = list(enc.parameters()) + list(dec.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    acc, rec_hist = {}, []
    for step in range(steps):
        i = torch.randint(0, len(pools.shapes.x), (32,), generator=gen)
        j = torch.randint(0, len(pools.mnist_x), (32,), generator=gen)
        px, psrc = photo_crops(pools.photos, 16, pools.size, gen, augment=bool(step % 2))
        x = torch.cat([pools.shapes.x[i], pools.mnist_x[j], px])
        feats = enc(x)[-1]
        pooled = feats.mean(dim=(2, 3))
        fs, fm, fp = pooled[:32], pooled[32:64], pooled[64:]
        logits = {k: heads[k](fs) for k in ("shape", "color", "background")}
        logits["digit"], logits["photo"] = heads["digit"](fm), heads["photo"](fp)
        targets = {k: pools.shapes.attrs[k][i] for k in ("shape", "color", "background")}
        targets["digit"], targets["photo"] = pools.mnist_y[j], psrc
        rec = F.l1_loss(dec(feats), x)
        loss = sum(F.cross_entropy(logits[k], targets[k]) for k in logits) + recon_weight * rec
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        rec_hist.append(rec.item())
        if step >= steps - 50:  # running accuracy over the last 50 steps
            for k in logits:
                acc.setdefault(k, []).append((logits[k].argmax(1) == targets[k]).float().mean().item())
        if step % 100 == 0 or step == steps - 1:
            log.info("encoder step %d/%d loss %.3f (reconstruction L1 %.4f)", step, steps, loss.item(), rec.item())
    return (enc.eval().requires_grad_(False), dec, {k: round(float(np.mean(v)), 4) for k, v in acc.items()},
            round(float(np.mean(rec_hist[-50:])), 5))


# ------------------------------------------------------------------------------------------------- phase 2
def train_decoder(net: StyleTransferNet, pools: Pools, steps: int, batch: int, lr: float, style_weight: float,
                  gen: torch.Generator, identity_weight: float = 0.0):
    """The paper's L_c + λ·L_s; with `identity_weight` > 0 also that weight times the L1 pixel error of
    g(AdaIN(f(c), f(c))) against c on a second content batch (an identity term, not in Huang & Belongie)."""
    opt = torch.optim.Adam(net.decoder.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    net.decoder.train()
    hist = []
    for step in range(steps):
        out = net.loss(pools.content(batch, gen), pools.style(batch, gen), style_weight)
        loss, ident = out["loss"], torch.zeros(())
        if identity_weight > 0:
            c = pools.content(batch // 2, gen)
            with torch.no_grad():
                t, _ = net.target(c, c)
            ident = F.l1_loss(net.decoder(t), c)
            loss = loss + identity_weight * ident
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist.append((loss.item(), out["content"].item(), out["style"].item(), ident.item()))
        if step % 100 == 0 or step == steps - 1:
            log.info("decoder step %d/%d loss %.4f (content %.4f, style %.4f, identity L1 %.4f)", step, steps,
                     *hist[-1])
    net.decoder.eval()
    last = np.array(hist[-100:])
    return {"loss": float(last[:, 0].mean()), "content": float(last[:, 1].mean()), "style": float(last[:, 2].mean()),
            "identity_l1": float(last[:, 3].mean()), "first_100_loss": float(np.mean([h[0] for h in hist[:100]]))}


@torch.no_grad()
def held_out_report(net: StyleTransferNet, pools: Pools, style_weight: float, seed: int = 123) -> dict:
    """Losses and reconstruction errors of the reloaded network on held-out content and style images."""
    gen = torch.Generator().manual_seed(seed)
    content, style = pools.content(192, gen), pools.style(192, gen)
    out = net.loss(content, style, style_weight)
    k = 64
    recon = {name: reconstruction_error(net, content[i * k:(i + 1) * k]) for i, name in
             enumerate(("shapes", "mnist", "photos"))}
    stylized = out["output"].clamp(-1, 1)
    return {"loss": round(out["loss"].item(), 5), "content": round(out["content"].item(), 5),
            "style": round(out["style"].item(), 5),
            "style_distance_content_to_style": round(net.style_distance(content, style).item(), 5),
            "style_distance_output_to_style": round(net.style_distance(stylized, style).item(), 5),
            "reconstruction_mean_abs_error": {k: round(v, 4) for k, v in recon.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="weights path (default: the shipped asset)")
    ap.add_argument("--vgg19", default=None, help="torchvision VGG-19 features weights (safetensors): use it as "
                                                  "the encoder instead of training the small one")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--encoder-steps", type=int, default=800)
    ap.add_argument("--decoder-steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--style-weight", type=float, default=10.0)
    ap.add_argument("--identity-weight", type=float, default=10.0,
                    help="L1 identity term weight for the decoder (0 = the paper's loss only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    pools = Pools(args.resolution, "train")
    decoder, ae_rec = None, None
    if args.vgg19:
        config, enc_acc = StylizerConfig.vgg19(), None
        encoder = load_vgg19_encoder(args.vgg19)
    else:
        config = StylizerConfig()
        encoder, decoder, enc_acc, ae_rec = train_encoder(pools, config, args.encoder_steps, 3e-3, gen)
    t_enc = time.time() - t0
    net = StyleTransferNet(config)
    net.encoder.load_state_dict(encoder.state_dict())
    if decoder is not None:  # start the AdaIN decoder from the pretraining's reconstruction decoder
        net.decoder.load_state_dict(decoder.state_dict())
    net.encoder.requires_grad_(False)
    train_stats = train_decoder(net, pools, args.decoder_steps, args.batch, args.lr, args.style_weight, gen,
                                args.identity_weight)
    seconds = time.time() - t0
    out = args.out or default_paths()[0]
    card = {"paper": "Huang & Belongie, Arbitrary Style Transfer in Real-time with Adaptive Instance "
                     "Normalization, ICCV 2017",
            "encoder": "vgg19 (user weights) up to relu4_1" if args.vgg19 else
                       "small VGG-like, trained here as a multi-task classifier",
            "encoder_pretraining": {"train_accuracy_last50": enc_acc, "reconstruction_l1_last50": ae_rec,
                                    "loss": "sum of 5 cross-entropies + 10 * L1 pixel reconstruction"},
            "data": {"resolution": args.resolution,
                     "content": "shapes ShapesConfig(seed=0, n=4000), MNIST-5k train split, sklearn sample photo "
                                "crops", "style": "colour-permuted/inverted sklearn sample photo crops, shapes",
                     "held_out": "shapes seed=1, MNIST-5k test split, photo crops from another random stream "
                                 "(same two photographs)"},
            "training": {"encoder_steps": 0 if args.vgg19 else args.encoder_steps, "decoder_steps": args.decoder_steps,
                         "batch": args.batch, "lr": args.lr, "optimizer": "Adam, one-cycle",
                         "style_weight": args.style_weight, "identity_weight": args.identity_weight,
                         "seed": args.seed, "threads": args.threads,
                         "seconds_encoder": round(t_enc, 1), "seconds": round(seconds, 1),
                         "torch": torch.__version__,
                         "command": "python scripts/train_stylizer.py"},
            "train_last100": {k: round(v, 5) for k, v in train_stats.items()}}
    save_stylizer(net, out, card)
    reloaded = load_stylizer(None if args.out is None else out)
    card["held_out"] = held_out_report(reloaded, Pools(args.resolution, "test"), args.style_weight)
    card = save_stylizer(reloaded, out, card)
    log.info("wrote %s (%d bytes) in %.0f s; held-out %s", out, card["bytes"], seconds, card["held_out"])


if __name__ == "__main__":
    main()

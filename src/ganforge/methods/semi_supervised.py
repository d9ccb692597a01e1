"""Semi-supervised GAN (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, §5; official
``mnist_svhn_cifar10/train_mnist_feature_matching.py``).

The discriminator is a K-class classifier with logits l(x); the GAN's "generated" class has its logit fixed at 0,
so D(x) = Z(x)/(Z(x)+1) with Z(x) = Σ_k exp l_k(x) (``models/improved.py``, ``semisup-mlp``). Per iteration:

* D: L = L_supervised + w·L_unsupervised on a labelled batch, an unlabelled batch and a batch of fakes, with
  L_supervised = cross-entropy of softmax(l) on the labelled batch and
  L_unsupervised = ½·E_x[−log D(x)] + ½·E_z[−log(1 − D(G(z)))]
                 = ½·E_x[softplus(lse(x)) − lse(x)] + ½·E_z[softplus(lse(G(z)))],  lse = logsumexp_k l_k
  (the official code's form, with its ½; w = ``unlabeled_weight`` = 1);
* G: feature matching (§3.1) on D's last hidden layer, real moments from a second unlabelled batch as in the
  official code: ``l2`` = mean_j (E f_j(x) − E f_j(G(z)))² (the official MNIST code; the paper's ‖·‖²₂ up to the
  constant 1/dim) or ``l1`` = mean_j |·| (the official CIFAR code).

Where the labels come from: the Trainer only hands out batches, without indices, so the method builds its own
labelled set at construction from the run's data config: ``labels_per_class`` examples of each class, chosen
deterministically from ``label_seed`` (the official selection: a seeded permutation, then the first N of each
class). The Trainer's batches are the unlabelled stream and their labels are ignored (as in the paper, the
labelled examples are also part of the unlabelled pool). With ``test_every`` > 0 the method also logs
``test_acc``, the accuracy of D's classes (eval mode: no noise) on the ``test`` split of the same data config.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Batch, build_dataset
from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..registry import METHODS
from .base import Method
from .standard import adam


@dataclass
class SemiSupervisedConfig:
    name: str = "semi-supervised"
    labels_per_class: int = 10  # 10 × 10 classes = the paper's 100 MNIST labels
    label_seed: int = 1  # which examples are labelled (official --seed_data 1)
    labelled_batch_size: int = 100  # official: 100 labelled + 100 unlabelled per D step
    unlabeled_weight: float = 1.0
    lr: float = 3e-3  # the official MNIST script's constant `lr = 0.003` (its CIFAR script: 3e-4, decayed)
    betas: Tuple[float, float] = (0.5, 0.999)
    feature_matching: str = "l2"  # l2 (official MNIST) | l1 (official CIFAR)
    data_init: bool = True  # the official data-dependent init of D's weight norm, on the first unlabelled batch
    test_every: int = 0  # log test_acc on the data's test split every N iterations; 0 = never

    def validate(self):
        if self.labels_per_class < 1 or self.labelled_batch_size < 1:
            raise ConfigError(f"method.labels_per_class and labelled_batch_size must be ≥ 1, got "
                              f"{self.labels_per_class} and {self.labelled_batch_size}")
        if self.feature_matching not in ("l1", "l2"):
            raise ConfigError(f"method.feature_matching must be l1 or l2, got {self.feature_matching!r}")
        if self.unlabeled_weight < 0 or self.test_every < 0:
            raise ConfigError("method.unlabeled_weight and method.test_every must be ≥ 0")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")


def select_labelled(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices (sorted by class, then by draw) of `per_class` examples of every class: a permutation drawn from
    `seed`, then the first `per_class` of each class in that order (the official selection)."""
    y = labels.cpu().numpy()
    order = np.random.default_rng(seed).permutation(len(y))
    picked = []
    for k in np.unique(y):
        rows = order[y[order] == k][:per_class]
        if len(rows) < per_class:
            raise ConfigError(f"class {k} has only {len(rows)} examples; method.labels_per_class is {per_class}")
        picked.append(rows)
    return torch.from_numpy(np.concatenate(picked)).long()


def unsupervised_loss(lse_real: torch.Tensor, lse_fake: torch.Tensor) -> torch.Tensor:
    """½·E[−log D(x)] + ½·E[−log(1 − D(G(z)))] with D = Z/(Z+1) and lse = log Z (Salimans et al. 2016, §5)."""
    return 0.5 * (F.softplus(lse_real) - lse_real).mean() + 0.5 * F.softplus(lse_fake).mean()


def feature_matching_loss(real: torch.Tensor, fake: torch.Tensor, norm: str = "l2") -> torch.Tensor:
    """Distance between the batch means of D features (Salimans et al. 2016, §3.1), averaged over features."""
    diff = real.flatten(1).mean(0) - fake.flatten(1).mean(0)
    return diff.pow(2).mean() if norm == "l2" else diff.abs().mean()


@torch.no_grad()
def classification_accuracy(discriminator, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Share of `x` whose argmax class logit equals `y`, in eval mode (the mode is restored)."""
    was_training = discriminator.training
    discriminator.eval()
    try:
        device = next(discriminator.parameters()).device
        hits = 0
        for i in range(0, len(x), batch_size):
            logits = discriminator.class_logits(x[i : i + batch_size].to(device))
            hits += int((logits.argmax(1).cpu() == y[i : i + batch_size].cpu()).sum())
        return hits / len(x)
    finally:
        discriminator.train(was_training)


class SemiSupervisedGAN(Method):
    """The semi-supervised GAN with feature matching (Salimans et al. 2016, §5; see the module docstring).

    `labelled` holds the labelled examples (x in [−1, 1], y); `labelled_index` their rows in the training set
    (checked on resume); `test` an optional labelled test set for ``test_acc``.
    """

    def __init__(self, cfg: SemiSupervisedConfig, generator, discriminator, labelled: Batch,
                 labelled_index: Optional[torch.Tensor] = None, test: Optional[Batch] = None):
        super().__init__(cfg, generator, discriminator)
        if not hasattr(discriminator, "class_logits"):
            raise ConfigError("the semi-supervised method needs a classifier discriminator (e.g. semisup-mlp)")
        self.labelled = labelled
        self.labelled_index = labelled_index if labelled_index is not None else torch.arange(len(labelled.y))
        self.test = test
        if cfg.test_every and test is None:
            raise ConfigError("method.test_every needs a test set")
        self.label_rng = torch.Generator().manual_seed(int(cfg.label_seed) + 1)
        self.test_acc = torch.tensor(float("nan"))
        self._opt = None
        self._lab_device = None

    @classmethod
    def from_config(cls, config, info):
        c = config.method
        train = build_dataset(config.data)
        if train.y is None:
            raise ConfigError(f"the semi-supervised method needs labelled data; {config.data.name} has no labels")
        index = select_labelled(train.y, c.labels_per_class, c.label_seed)
        test = None
        if c.test_every:
            if getattr(config.data, "split", None) != "train":
                raise ConfigError("method.test_every needs data with a train/test split and data.split=train")
            test = build_dataset(dataclasses.replace(config.data, split="test")).get(slice(None))
        return cls(c, build_generator(config.generator, info), build_discriminator(config.discriminator, info),
                   train.get(index), index, test)

    # -- optimisers and owned state -------------------------------------------------------------------------------
    def optimizers(self):
        if self._opt is None:  # built lazily so that they live on the networks' device
            c = self.cfg
            self._opt = {"g": adam(self.generator.parameters(), c.lr, c.betas),
                         "d": adam([p for p in self.discriminator.parameters() if p.requires_grad], c.lr, c.betas)}
        return self._opt

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["semisup"] = {"label_rng": self.label_rng.get_state(), "labelled_index": self.labelled_index.clone(),
                            "test_acc": self.test_acc.clone()}
        return state

    def load_state_dict(self, state: dict) -> None:
        if not torch.equal(state["semisup"]["labelled_index"].cpu(), self.labelled_index.cpu()):
            raise ConfigError("the checkpoint was trained with another labelled set (data or method.label_seed / "
                              "labels_per_class changed)")
        super().load_state_dict(state)
        self.label_rng.set_state(state["semisup"]["label_rng"].cpu())
        self.test_acc = state["semisup"]["test_acc"].clone()

    # -- the step -------------------------------------------------------------------------------------------------
    def labelled_batch(self, device) -> Tuple[torch.Tensor, torch.Tensor]:
        """`labelled_batch_size` labelled examples: concatenated seeded permutations of the labelled set (the
        official code tiles permuted copies of it)."""
        if self._lab_device != device:
            self._lab = (self.labelled.x.to(device), self.labelled.y.to(device))
            self._lab_device = device
        n, want = len(self.labelled.y), self.cfg.labelled_batch_size
        idx = torch.cat([torch.randperm(n, generator=self.label_rng) for _ in range(-(-want // n))])[:want]
        idx = idx.to(device)
        return self._lab[0][idx], self._lab[1][idx]

    def d_step(self, unlabelled: torch.Tensor):
        G, D, c = self.generator, self.discriminator, self.cfg
        x_lab, y_lab = self.labelled_batch(unlabelled.device)
        if self.d_steps == 0 and c.data_init and hasattr(D, "data_init"):
            D.data_init(unlabelled)
        with torch.no_grad():
            fake = G(self.sample_z(unlabelled.shape[0]))
        logits = D.class_logits(torch.cat([x_lab, unlabelled, fake.to(unlabelled.dtype)]))  # no BN: one pass
        l_lab, l_unl, l_fake = logits.split([len(x_lab), len(unlabelled), len(fake)])
        sup = F.cross_entropy(l_lab, y_lab)
        unsup = unsupervised_loss(torch.logsumexp(l_unl, 1), torch.logsumexp(l_fake, 1))
        loss = sup + c.unlabeled_weight * unsup
        self.update(loss, "d")
        self.d_steps += 1
        acc = (l_lab.detach().argmax(1) == y_lab).float().mean()
        return loss.detach(), sup.detach(), unsup.detach(), acc

    def g_step(self, real: torch.Tensor) -> torch.Tensor:
        G, D = self.generator, self.discriminator
        fake = G(self.sample_z(real.shape[0]))
        with torch.no_grad():
            _, real_feats = D.forward_with_features(real)
        _, fake_feats = D.forward_with_features(fake)
        loss = feature_matching_loss(real_feats, fake_feats, self.cfg.feature_matching)
        self.update(loss, "g")
        self.g_steps += 1
        return loss.detach()

    def step(self, data, progress: float):
        d_loss, sup, unsup, acc = self.d_step(data.next().x)
        g_loss = self.g_step(data.next().x)  # a second unlabelled batch for the real moments (official code)
        logs = {"d_loss": d_loss, "g_loss": g_loss, "sup_loss": sup, "unsup_loss": unsup, "sup_acc": acc}
        if self.cfg.test_every:
            if self.g_steps % self.cfg.test_every == 0 or self.g_steps == 1:
                self.test_acc = torch.tensor(classification_accuracy(self.discriminator, self.test.x, self.test.y))
            logs["test_acc"] = self.test_acc
        return logs


METHODS.register("semi-supervised", SemiSupervisedConfig)(SemiSupervisedGAN)

"""Linear separability of attributes in a latent space (Karras et al., "A Style-Based Generator Architecture for
Generative Adversarial Networks", CVPR 2019, §4.2), following the official code (reference/papers-details.md §1.8):

1. Sample z, w = mapping(z) (z itself for a generator without mapping network), generate the images.
2. An attribute classifier gives each image a probability per binary attribute.
3. Per attribute: keep the most confident half (by max(p, 1 − p)), label = the more probable class; fit
   ``sklearn.svm.LinearSVC()`` (defaults) on the latents and predict **on the same points** (if the fit fails,
   the prediction is taken as perfect, as in the official code).
4. 2×2 joint p(x, y) of (SVM prediction X, classifier label Y): H(Y|X) = max(0, H(Y) − I(X; Y)), in **bits**.
5. Score = 2 ** Σ_attributes H(Y_i|X_i) (= the paper's exp(Σ H) with H in nats). Lower = more separable; 1 =
   every attribute perfectly linearly separable.

StyleGAN uses 40 CelebA-HQ binary classifiers. For ganforge's data the classifier is the shipped ``shapes``
evaluator (``metrics.evaluator``), whose heads are multi-class (shape 3, colour 7, background 3): every class k of
every head becomes a binary attribute "head = k" with p = softmax_k (one-vs-rest), 13 attributes in all, the way
CelebA describes a face with 40 binary attributes. Any other classifier works: a function images -> N×A
probabilities of the positive class.
"""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import ConfigError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- information
def _entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def conditional_entropy(joint: np.ndarray) -> float:
    """H(Y|X) in bits from a joint table p[x][y] (normalised here). The official code evaluates
    max(0, H(Y) − I(X; Y)); the same quantity is computed here as Σ_x p(x)·H(Y | X = x), which is exactly 0 (not
    a 1e-16 round-off) when X determines Y."""
    p = np.asarray(joint, dtype=np.float64)
    p = p / p.sum()
    px = p.sum(axis=1)
    h = sum(px[x] * _entropy_bits(p[x] / px[x]) for x in range(len(px)) if px[x] > 0)
    return max(0.0, float(h))


def joint_table(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """2×2 table of the fractions of cases (x, y) for binary x (SVM output) and y (classifier label)."""
    t = np.zeros((2, 2))
    np.add.at(t, (np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)), 1.0)
    return t / max(1.0, t.sum())


def _svm_predictions(latents: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, str]:
    """LinearSVC() fitted and evaluated on the same points; (labels, "fit-failed") when fitting throws."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm = LinearSVC().fit(latents, labels)
        note = "not-converged" if any(issubclass(w.category, ConvergenceWarning) for w in caught) else "ok"
        return svm.predict(latents), note
    except ValueError as e:  # e.g. a single class among the kept samples
        log.debug("LinearSVC failed (%s): prediction taken as perfect", e)
        return labels.copy(), "fit-failed"


@dataclass
class SeparabilityResult:
    """score = 2 ** total; entropies: H(Y|X) in bits per attribute; notes: SVM fit status per attribute."""

    score: float
    total_bits: float
    entropies: Dict[str, float]
    label_entropies: Dict[str, float]
    notes: Dict[str, str]
    protocol: Dict

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.protocol, sort_keys=True).encode()).hexdigest()[:20]


def separability_from_latents(latents, attribute_probs, names: Optional[Sequence[str]] = None,
                              keep_fraction: float = 0.5) -> SeparabilityResult:
    """The separability score of `latents` (N×D) for the binary attributes whose positive-class probabilities
    are the columns of `attribute_probs` (N×A) — steps 3-5 of the procedure."""
    lat = np.asarray(latents.detach().cpu() if isinstance(latents, torch.Tensor) else latents, dtype=np.float64)
    probs = np.asarray(attribute_probs.detach().cpu() if isinstance(attribute_probs, torch.Tensor)
                       else attribute_probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[:, None]
    if lat.ndim != 2 or probs.ndim != 2 or len(lat) != len(probs):
        raise ConfigError(f"need N×D latents and N×A probabilities, got {lat.shape} and {probs.shape}")
    if not 0 < keep_fraction <= 1:
        raise ConfigError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    names = list(names) if names is not None else [f"attr{i}" for i in range(probs.shape[1])]
    if len(names) != probs.shape[1]:
        raise ConfigError(f"{len(names)} names for {probs.shape[1]} attributes")
    keep = max(1, int(len(lat) * keep_fraction))
    ent, hy, notes = {}, {}, {}
    for i, name in enumerate(names):
        p = probs[:, i]
        order = np.argsort(-np.maximum(p, 1 - p), kind="stable")[:keep]  # most confident first
        labels = (p[order] > 0.5).astype(np.int64)
        pred, notes[name] = _svm_predictions(lat[order], labels)
        joint = joint_table(pred, labels)
        ent[name] = conditional_entropy(joint)
        hy[name] = _entropy_bits(joint.sum(axis=0))
    total = float(sum(ent.values()))
    protocol = {"metric": "linear_separability", "n": int(len(lat)), "keep": keep, "attributes": names,
                "svm": "sklearn.svm.LinearSVC() defaults, predicted on its training points",
                "entropy_unit": "bits", "score": "2 ** sum H(Y|X)"}
    return SeparabilityResult(2.0 ** total, total, ent, hy, notes, protocol)


# --------------------------------------------------------------------------------------------- classifiers
def evaluator_attributes(evaluator) -> Tuple[Callable[[torch.Tensor], torch.Tensor], List[str]]:
    """(images -> N×A probabilities, names) from a multi-head evaluator: one binary attribute "head=class" per
    class of every head, p = the head's softmax of that class (one-vs-rest)."""
    names = [f"{head}={cls}" for head, classes in evaluator.config.heads.items() for cls in classes]

    @torch.no_grad()
    def classify(images: torch.Tensor) -> torch.Tensor:
        logits = evaluator.head_logits(images)
        return torch.cat([logits[h].softmax(dim=1) for h in evaluator.config.heads], dim=1)

    return classify, names


def _resolve_classifier(classifier, names, device):
    if classifier is None or isinstance(classifier, str):
        from .evaluator import EVALUATOR_NAMES, load_evaluator

        name = classifier or "shapes"
        if name not in EVALUATOR_NAMES:
            raise ConfigError(f"unknown evaluator {name!r}: use one of {', '.join(EVALUATOR_NAMES)}")
        ev = load_evaluator(name, device=device)
        fn, names = evaluator_attributes(ev)
        return fn, names, f"evaluator-{name}-one-vs-rest", ev.weights_sha256
    if not callable(classifier):
        raise ConfigError("classifier must be an evaluator name or a function images -> N×A probabilities")
    return classifier, names, getattr(classifier, "name", getattr(classifier, "__name__", "custom")), ""


@torch.no_grad()
def linear_separability(generator, classifier=None, *, names: Optional[Sequence[str]] = None, n: int = 10_000,
                        space: str = "w", batch_size: int = 256, keep_fraction: float = 0.5, seed: int = 0,
                        device=None) -> SeparabilityResult:
    """Steps 1-5 for `generator` in `space` "w" (style-based: w = mapping(z), one broadcast copy) or "z".

    classifier: a shipped evaluator name (default "shapes": 13 one-vs-rest attributes) or a function images ->
    N×A probabilities (then `names` may label the columns). The paper uses n = 200,000 (keep 100,000). Images of a
    style-based generator are synthesised from the broadcast w with fresh noise (``randomize_noise=True``), drawn
    from the seeded stream (eval mode would otherwise use the fixed noise).
    """
    from .ppl import is_style_based

    if space not in ("z", "w"):
        raise ConfigError(f"unknown space {space!r}: use 'z' or 'w'")
    style = is_style_based(generator)
    if space == "w" and not style:
        raise ConfigError(f"separability in W needs a style-based generator (with a mapping network); "
                          f"{type(generator).__name__} has none: use space='z'")
    if device is None:
        p = next(iter(generator.parameters()), None) if hasattr(generator, "parameters") else None
        device = p.device if p is not None else torch.device("cpu")
    fn, names, clf_name, clf_sha = _resolve_classifier(classifier, names, device)
    gen = torch.Generator().manual_seed(int(seed))
    num_classes = int(getattr(generator, "num_classes", 0) or 0)
    was_training = bool(getattr(generator, "training", False))
    if hasattr(generator, "eval"):
        generator.eval()
    lats, probs = [], []
    try:
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            z = generator.sample_z(b, generator=gen).to(device)
            y = torch.randint(0, num_classes, (b,), generator=gen).to(device) if num_classes else None
            if style:
                w = generator.mapping(z, y)
                w = w[:, -1] if w.dim() == 3 else w
                ws = w.unsqueeze(1).expand(-1, int(generator.num_ws), -1)
                images = generator.synthesis(ws, noise=generator.make_noise(b, gen))
            else:
                w, images = z, generator(z, y)
            lats.append((w if space == "w" else z).float().cpu())
            probs.append(torch.as_tensor(fn(images)).float().cpu())
    finally:
        if was_training and hasattr(generator, "train"):
            generator.train()
    res = separability_from_latents(torch.cat(lats), torch.cat(probs), names, keep_fraction)
    res.protocol.update({"space": space, "classifier": clf_name, "classifier_sha256": clf_sha, "seed": int(seed)})
    log.info("linear separability (%s, %d samples, %s): %.4g", space, n, clf_name, res.score)
    return res

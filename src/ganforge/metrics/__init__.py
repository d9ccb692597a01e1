"""Quality and diversity metrics of generated samples (pure functions of tensors and arrays).

Feature-space metrics take N×D feature tensors (which network produced them is the caller's choice, TF-GAN's
`classifier_fn` idea): `fid`, `kid`, `inception_score` (classifier logits), `precision_recall`, `prdc`.
`swd` works on images (ProGAN's Laplacian-pyramid patches); `mode_coverage` / `stacked_mnist_modes` count modes.
`perceptual_path_length` and `linear_separability` (StyleGAN §4) work on a generator; their cores
(`filter_percentiles`, `slerp`, `separability_from_latents`) are pure functions.

Imported eagerly on purpose: several functions share their submodule's name (`fid`, `kid`, `swd`, `prdc`,
`inception_score`), and binding the functions here at package import is what keeps `ganforge.metrics.fid` the
function even after some other module runs `from ganforge.metrics.fid import ...` (the import system binds a
submodule to its parent's attribute only when it first loads it).
"""
from .confidence import confident_classes, confident_share
from .fid import fid, frechet_distance, gaussian_stats, trace_sqrt_product
from .inception_score import inception_score
from .kid import MeanStd, kid, mmd2_unbiased, polynomial_kernel
from .modes import mode_coverage, stacked_mnist_modes
from .prdc import knn_radii, prdc, precision_recall
from .swd import sliced_wasserstein, sliced_wasserstein_distance, swd, swd_descriptors
from .ppl import filter_percentiles, perceptual_path_length, slerp
from .separability import linear_separability, separability_from_latents

__all__ = [
    "MeanStd", "confident_classes", "confident_share", "fid", "frechet_distance", "gaussian_stats", "inception_score", "kid", "knn_radii",
    "mmd2_unbiased", "mode_coverage", "polynomial_kernel", "prdc", "precision_recall", "sliced_wasserstein",
    "sliced_wasserstein_distance", "stacked_mnist_modes", "swd", "swd_descriptors", "trace_sqrt_product",
    "filter_percentiles", "linear_separability", "perceptual_path_length", "separability_from_latents", "slerp",
]

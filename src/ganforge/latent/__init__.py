"""Tools on a trained generator's latent space: interpolation (lerp / slerp) and vector arithmetic."""
from .arithmetic import analogy, group_means
from .interpolate import interpolation_path, lerp, slerp

__all__ = ["lerp", "slerp", "interpolation_path", "group_means", "analogy"]

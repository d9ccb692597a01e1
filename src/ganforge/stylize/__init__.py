"""AdaIN style transfer (Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017): encoder -> AdaIN -> decoder, with a small default network trained here on bundled data
and a pluggable VGG-19 encoder (local safetensors weights). See ``nets``, ``weights`` and ``api``.

``ganforge.stylize`` is both this package and the function ``ganforge.stylize(content, style, alpha)``: importing
the package rebinds the name on ``ganforge`` to the package, so the package module itself is made callable.
"""
from .._facade import make_callable
from .api import reconstruction_error, stylize, stylize_tensors, to_pil
from .nets import Decoder, Encoder, StyleTransferNet, StylizerConfig, style_loss
from .weights import load_stylizer, load_vgg19_encoder, save_stylizer

__all__ = ["Decoder", "Encoder", "StyleTransferNet", "StylizerConfig", "load_stylizer", "load_vgg19_encoder",
           "reconstruction_error", "save_stylizer", "style_loss", "stylize", "stylize_tensors", "to_pil"]


make_callable(__name__, "ganforge.stylize.api:stylize")

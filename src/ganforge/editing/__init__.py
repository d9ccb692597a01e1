"""Editing real images through a GAN: iGAN's projection and constrained editing (Zhu et al., ECCV 2016) and the
Neural Photo Editor's rule (Brock et al., ICLR 2017). Functions a web page can call per stroke:
:class:`EditSession` (project once, then `stroke(...)`, `undo()`, `reset()`), and the pieces — :func:`project`,
:func:`train_encoder`, :func:`constrained_edit`, :func:`transfer_edit`, :func:`npe_output`."""
from .constrained import ConstrainedResult, constrained_edit
from .constraints import Constraints, constraint_costs, edge_map
from .encoder import LatentEncoder, load_encoder, save_encoder, train_encoder
from .features import pixel_error, reconstruction_loss
from .flow import horn_schunck, transfer_edit, warp
from .images import read_image, write_image
from .npe import gaussian_blur, npe_latent_step, npe_output
from .projection import Projection, project
from .run import encoder_for_run
from .session import EditResult, EditSession
from .space import LatentSpace
from .strokes import StrokeError, apply_strokes, parse_strokes, read_strokes

__all__ = ["ConstrainedResult", "constrained_edit", "Constraints", "constraint_costs", "edge_map", "LatentEncoder",
           "load_encoder", "save_encoder", "train_encoder", "pixel_error", "reconstruction_loss", "horn_schunck",
           "transfer_edit", "warp", "read_image", "write_image", "gaussian_blur", "npe_latent_step", "npe_output",
           "Projection", "project", "encoder_for_run", "EditResult", "EditSession", "LatentSpace", "StrokeError", "apply_strokes",
           "parse_strokes", "read_strokes"]

"""Which encoder a run offers for projection: a trained iGAN encoder in `RUN/encoder/`, else the run's
introspective discriminator (IAN's body doubles as the encoder: its `encode_mean`), else none (optimisation only).
The caller loads the discriminator (api.load_discriminator) — this module does not import the API layer."""
from __future__ import annotations

import os
from typing import Callable, Optional

from .encoder import ENCODER_DIR, load_encoder


def encoder_for_run(run_dir: str, discriminator=None, encoder_dir: Optional[str] = None,
                    device="cpu") -> Optional[Callable]:
    """An image -> code callable, or None. `encoder_dir` (a folder with encoder.json) wins when given."""
    if encoder_dir:
        return load_encoder(encoder_dir, device=device)
    if os.path.isfile(os.path.join(run_dir, ENCODER_DIR, "encoder.json")):
        return load_encoder(run_dir, device=device)
    return getattr(discriminator, "encode_mean", None)

"""`ganforge serve`: a web explorer over the Python API (DESIGN.md §2 and §10).

One idea per module:

* :mod:`.runs`      the run table: the run directories named at start, addressed by name or index only;
* :mod:`.images`    tensors to PNG bytes (grids, strips);
* :mod:`.uploads`   image uploads with byte and pixel limits (a decompression bomb is refused);
* :mod:`.errors`    every bad request is a 4xx with a one-line ``{"error": ...}`` body;
* :mod:`.sampling`  the Samples page's API: grids from seeds, truncation, classes, interpolation;
* :mod:`.mixing`    the Style mixing page's API (StyleGAN runs; :mod:`ganforge.latent.style`);
* :mod:`.paint`     the GANPaint page's API (dissection units per class, :mod:`ganforge.dissect`);
* :mod:`.lab`       the GAN Lab page's API: sessions of :mod:`ganforge.ganlab`, streamed as server-sent events;
* :mod:`.server`    the app factory :func:`create_app` and the pages (plain HTML/JS in ``static/``).

FastAPI and uvicorn are an optional extra: ``pip install 'ganforge[serve]'``.
"""
from .server import create_app

__all__ = ["create_app"]

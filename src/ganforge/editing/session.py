"""One photo edited stroke by stroke: the object a web page (or the CLI) drives.

    s = EditSession(g, photo, method="igan", encoder=enc)   # projects the photo once
    r = s.stroke([{"type": "color", "points": [[10, 12], [20, 12]], "width": 3, "color": [255, 0, 0]}])
    r.output        # the photo with the edit, 1×C×H×W in [-1, 1]
    r.generated     # the edited image on the manifold
    s.undo(); s.reset()

Method "igan" (Zhu et al., ECCV 2016): every stroke adds to the constraints, the code is re-optimised (warm start
from the current code, `edit_steps` Adam steps, smoothness towards the projection), and the edit is carried onto the
photo by the motion + colour flow (flow.py). Method "npe" (Brock et al., ICLR 2017): each colour stroke takes
`npe_steps` gradient steps on the code and the photo changes only under the NPE mask (npe.py); sketch and warp
strokes are iGAN's, NPE has colour brushes only. Strokes are the JSON objects of strokes.py (coordinates in the
generator's pixels unless the document gives a "size").
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

from ..errors import GanforgeError
from .constrained import constrained_edit
from .constraints import Constraints, constraint_costs
from .features import FEATURE_WEIGHT, pixel_error
from .flow import transfer_edit
from .npe import npe_latent_step, npe_output
from .projection import check_images, project
from .space import LatentSpace
from .strokes import StrokeError, apply_strokes, parse_strokes

EDIT_METHODS = ("igan", "npe")


@dataclass
class EditResult:
    output: torch.Tensor  # the edited photo, 1×C×H×W
    generated: torch.Tensor  # G(code) after the edit
    latent: torch.Tensor  # the code, 1×dim
    costs: Dict[str, float] = field(default_factory=dict)  # constraint costs of `generated` (colour / sketch / smooth)
    mask: Optional[torch.Tensor] = None  # NPE: the blend mask 1×1×H×W
    seconds: float = 0.0


class EditSession:
    def __init__(self, g, photo: torch.Tensor, method: str = "igan", encoder=None, projector: str = "auto",
                 project_steps: int = 100, edit_steps: int = 20, npe_steps: int = 10, reach: Optional[int] = 3,
                 candidates: int = 1, space: str = "auto", y: Optional[int] = None, features="auto",
                 feature_weight: float = FEATURE_WEIGHT, seed: int = 0):
        if method not in EDIT_METHODS:
            raise GanforgeError(f"edit method must be one of {', '.join(EDIT_METHODS)}, got {method!r}")
        self.ls = LatentSpace(g, space, y)
        self.ls.module.eval()
        self.method, self.edit_steps, self.npe_steps, self.reach = method, edit_steps, npe_steps, reach
        self.candidates, self.seed = candidates, seed
        self.original = check_images(photo, self.ls.image_shape)[:1].cpu()
        if projector == "auto":
            projector = "hybrid" if encoder is not None else "opt"
        self.projection = project(g, self.original, projector, encoder, steps=project_steps, space=self.ls.space,
                                  y=y, features=features, feature_weight=feature_weight, seed=seed)
        self.latent0 = self.projection.latent
        self.recon0 = self.projection.image
        self.reset()

    @property
    def resolution(self) -> int:
        return self.ls.image_shape[-1]

    def reset(self) -> EditResult:
        """Forget every stroke: the photo as it came."""
        self.constraints = Constraints.empty(self.ls.image_shape)
        self.painted = torch.zeros(self.ls.image_shape[1:], dtype=torch.bool)
        self._history: List[tuple] = []
        self.latent = self.latent0.clone()
        self.result = EditResult(self.original.clone(), self.recon0.clone(), self.latent.clone())
        return self.result

    def undo(self) -> EditResult:
        """Back to the state before the last stroke call."""
        if self._history:
            self.constraints, self.painted, self.latent, self.result = self._history.pop()
        return self.result

    def stroke(self, strokes, steps: Optional[int] = None) -> EditResult:
        """Apply strokes (a list of stroke dicts, or a stroke document with "size") and return the new result.
        `steps` overrides edit_steps / npe_steps for this call: a page can call with few steps per mouse event
        (one iGAN step is ~40 ms at 32² on a CPU) and `stroke([])` again to keep refining the same constraints."""
        started = time.perf_counter()
        parsed = parse_strokes(strokes, self.resolution)
        self._history.append((self.constraints, self.painted, self.latent, self.result))
        try:
            result = self._npe(parsed, steps) if self.method == "npe" else self._igan(parsed, steps)
        except Exception:
            self.constraints, self.painted, self.latent, self.result = self._history.pop()
            raise
        result.seconds = time.perf_counter() - started
        self.result = result
        return result

    def _igan(self, parsed, steps: Optional[int]) -> EditResult:
        self.constraints = apply_strokes(self.constraints, parsed, self.recon0[0])
        self.painted = self.painted | self.constraints.painted
        r = constrained_edit(self.ls, self.latent0, self.constraints, start=self.latent,
                             steps=self.edit_steps if steps is None else steps,
                             candidates=self.candidates, seed=self.seed)
        self.latent = r.latent.cpu()
        output, _ = transfer_edit(self.original, self.recon0, r.image)
        return EditResult(output, r.image, self.latent.clone(), r.costs)

    def _npe(self, parsed, steps: Optional[int]) -> EditResult:
        latent = self.latent
        for s in parsed:
            if s["type"] != "color":
                raise StrokeError(f"the Neural Photo Editor paints colours only, got a {s['type']} stroke "
                                  f"(use method igan)")
            one = apply_strokes(Constraints.empty(self.ls.image_shape), [s], self.recon0[0])
            latent = npe_latent_step(self.ls, latent, one.colour_target, one.colour_mask,
                                     steps=self.npe_steps if steps is None else steps)
            self.constraints = apply_strokes(self.constraints, [s], self.recon0[0])
            self.painted = self.painted | one.painted
        self.latent = latent.cpu()
        with torch.no_grad():
            generated = self.ls.decode(self.latent).float().cpu()
        output, mask = npe_output(self.original, self.recon0, generated, self.painted, self.reach)
        costs = {k: float(v[0]) for k, v in constraint_costs(generated, self.constraints).items() if k != "smooth"}
        return EditResult(output, generated, self.latent.clone(), costs, mask)

    def summary(self) -> Dict[str, float]:
        """Numbers for a report: projection error; colour error in the painted region before/after; mean change of
        the photo outside the painted pixels."""
        out = {"projection_error": float(self.projection.error[0])}
        if self.painted.any():
            before = constraint_costs(self.recon0, self.constraints)
            after = constraint_costs(self.result.generated, self.constraints)
            for k in ("colour", "sketch"):
                out[f"{k}_cost_before"], out[f"{k}_cost_after"] = float(before[k][0]), float(after[k][0])
            outside = ~self.painted
            diff = (self.result.output - self.original).abs()[0].mean(0)
            out["change_outside_painted"] = float(diff[outside].mean()) if outside.any() else 0.0
            out["change_inside_painted"] = float(diff[self.painted].mean())
        out["output_vs_original_mse"] = float(pixel_error(self.result.output, self.original)[0])
        return out

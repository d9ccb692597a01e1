"""Request bodies shared by the pages' JSON API: strict about unknown keys, NaN/inf and out-of-range numbers, so
that every malformed request is a 422 with a one-line message before any work starts."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

MAX_SEED = 2**31 - 1
# strict scalars: true is not 1, "3" is not 3 (an int is still a valid float)
SInt = Annotated[int, Strict()]
SFloat = Annotated[float, Strict()]
SBool = Annotated[bool, Strict()]
Seed = Annotated[SInt, Field(ge=0, le=MAX_SEED, description="a seed: the same seed always gives the same latent code")]
Psi = Annotated[SFloat, Field(ge=0.0, le=1.0, description="truncation ψ: 1 = no truncation, 0 = the average image")]
ClassIndex = Annotated[SInt, Field(ge=0, le=100_000, description="class index for conditional runs")]
RunKey = Annotated[str, Field(min_length=1, max_length=100)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

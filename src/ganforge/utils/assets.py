"""Shipped model assets (the evaluators, the segmenter): safetensors weights beside a JSON card that records the
architecture, the numbers measured when the asset was built and the weights' SHA-256."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Type

from torch import nn


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_asset(model: nn.Module, config_json: dict, card: dict, weights: str, card_path: str) -> dict:
    """Write `model`'s weights (config in the safetensors metadata; BatchNorm step counters left out) and its card
    (`card` plus name, architecture, file name, SHA-256 and size of the weights); returns the card."""
    from .safeio import write_json, write_tensors

    os.makedirs(os.path.dirname(weights), exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    write_tensors(weights, state, metadata={"config": json.dumps(config_json)})
    card = dict(card, name=config_json["name"], architecture=config_json, weights=os.path.basename(weights),
                sha256=file_sha256(weights), bytes=os.path.getsize(weights))
    write_json(card_path, card)
    return card


def read_asset_card(card_path: str, error: Type[Exception], what: str, rebuild: str) -> dict:
    """The JSON card at `card_path`; `error` naming the rebuild command when it is missing."""
    if not os.path.isfile(card_path):
        raise error(f"the {what} card {card_path} is missing: reinstall ganforge, or rebuild it with `{rebuild}`")
    with open(card_path) as f:
        return json.load(f)

"""GAN Dissection: find the units that draw each class, switch them off or on, repair artifacts.

Bau, Zhu, Strobelt, Zhou, Tenenbaum, Freeman, Torralba, "GAN Dissection: Visualizing and Understanding
Generative Adversarial Networks", ICLR 2019 (arXiv 1811.10597). One idea per module:

* :mod:`.quantile`   streaming per-unit quantiles (KLL-style sketch) for the thresholds;
* :mod:`.segmenter`  the shipped shapes segmenter (the paper's semantic segmentation network);
* :mod:`.hooks`      reading and editing a layer named by ``feature_layers()``;
* :mod:`.stats`      upsampling (cell-centre geometry), IoU and IQR tables;
* :mod:`.dissect`    per-unit IoU with each class, labels, share of interpretable units;
* :mod:`.intervene`  ablation, insertion (everywhere, in a region, or where units fire), ACE, per-unit ACE
                     ranking, learned α;
* :mod:`.artifacts`  artifact units by per-unit FID; FID before/after ablating them where they fire;
* :mod:`.report`     HTML + JSON report with outlined top images.
"""
from .._facade import make_callable
from .artifacts import discriminator_fake_score, rank_artifact_units, repair_fid, unit_fid, unit_score_effects
from .dissect import LayerDissection, UnitRecord, dissect, dissect_layers
from .hooks import capture, edit, region_mask, resolve_layer
from .intervene import ace, edit_where_active, insertion_values, intervene, learn_alpha, rank_units_by_ace
from .quantile import RunningQuantile
from .report import write_report
from .segmenter import SegmenterNet, load_segmenter, segment
from .stats import upsample

__all__ = ["LayerDissection", "RunningQuantile", "SegmenterNet", "UnitRecord", "ace", "capture",
           "discriminator_fake_score", "dissect", "dissect_layers", "edit", "edit_where_active", "insertion_values",
           "intervene", "learn_alpha", "load_segmenter", "rank_artifact_units", "rank_units_by_ace", "region_mask",
           "repair_fid", "resolve_layer", "segment", "unit_fid", "unit_score_effects", "upsample", "write_report"]


make_callable(__name__, "ganforge.api:dissect")  # ganforge.dissect(...) works after this package is imported

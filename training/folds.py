"""Grouped cross-validation folds.

Two groupings: by article (all paragraphs of an article, or of an analyst's corrections of one
text, fall in one fold) and by writing batch (no batch is in both training and validation). The
batch grouping is the one model selection, thresholds and calibration use: article-grouped folds
share writers and briefs, so they reward fitting our own prose.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.dataset import TrainingData

Grouping = Literal["batch", "article"]


def article_folds(data: TrainingData, n_splits: int, seed: int, grouping: Grouping = "batch") -> np.ndarray:
    """Fold number of every article, stratified by its scope and stance so folds look alike."""
    groups = data.batches if grouping == "batch" else data.groups
    n_splits = max(2, min(n_splits, len(set(groups))))
    strata = np.array([f"{s}/{st}" for s, st in zip(data.in_scope, data.article_stance, strict=True)])
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold_of = np.full(data.n_articles, -1)
    for k, (_, test) in enumerate(splitter.split(np.zeros(data.n_articles), strata, groups)):
        fold_of[test] = k
    return fold_of

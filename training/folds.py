"""Grouped cross-validation folds: all paragraphs of an article (and of an article group, such as
an analyst's corrections of one text) always fall in the same fold."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.dataset import TrainingData


def article_folds(data: TrainingData, n_splits: int, seed: int) -> np.ndarray:
    """Fold number of every article, stratified by its scope and stance so folds look alike."""
    n_splits = max(2, min(n_splits, len(set(data.groups))))
    strata = np.array([f"{s}/{st}" for s, st in zip(data.in_scope, data.article_stance, strict=True)])
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold_of = np.full(data.n_articles, -1)
    for k, (_, test) in enumerate(splitter.split(np.zeros(data.n_articles), strata, data.groups)):
        fold_of[test] = k
    return fold_of

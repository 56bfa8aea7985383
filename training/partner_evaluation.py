"""Partner figures for the report: the about model out of fold, alone and behind the scope head.

Both are batch-held-out (`training.partners_model.cross_validate`). "In-scope articles" is the
about model's own task (which partners, given an article about Pakistan's relations); "end to
end" is what users get: partners only for articles the out-of-fold scope decision keeps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.model.partners import FEATURE_NAMES
from training.partners_model import AboutEvaluation, CandidateTable, scores


def partner_metrics(table: CandidateTable, evaluation: AboutEvaluation, predicted_in_scope: np.ndarray
                    ) -> dict[str, Any]:
    inside = table.in_scope
    missed = len(table.unmentioned)
    kept_end_to_end = evaluation.kept & predicted_in_scope[table.article].astype(bool)
    negatives = inside & ~table.gold
    is_top = table.features[:, FEATURE_NAMES.index("is_top")] > 0
    return {
        "in_scope_articles": _rounded(scores(evaluation.kept[inside], table.gold[inside], missed)),
        "end_to_end": _rounded(scores(kept_end_to_end, table.gold, missed)),
        "baseline_every_mention": _rounded(scores(np.ones(int(inside.sum()), dtype=bool), table.gold[inside], missed)),
        "baseline_most_mentioned": _rounded(scores(is_top[inside], table.gold[inside], missed)),
        "mentioned_not_about": {"candidates": int(negatives.sum()),
                                "wrongly_kept": int((evaluation.kept & negatives).sum())},
        "about_not_kept": int((inside & table.gold & ~evaluation.kept).sum()),
        "never_mentioned": missed,
    }


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}

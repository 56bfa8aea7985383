"""Shapes a `Classification` into the JSON the API returns (one place for the response format)."""

from __future__ import annotations

from typing import Any

from service.model.classifier import Classification

DIGITS = 4


def _r(value: float) -> float:
    return round(float(value), DIGITS)


def classification_body(result: Classification, model_version: str, client_id: str | None,
                         scope_threshold: float) -> dict[str, Any]:
    labels = result.labels
    body: dict[str, Any] = {
        "id": client_id,
        "model_version": model_version,
        "in_scope": {"label": labels.in_scope, "score": _r(labels.in_scope_score), "threshold": scope_threshold},
        "topics": [{"label": t, "score": _r(s)} for t, s in labels.topics],
        "topic_scores": {t: _r(s) for t, s in labels.topic_scores.items()},
        "stance": {"label": labels.stance, "scores": {s: _r(p) for s, p in labels.stance_scores.items()}},
        "uncertain": labels.uncertain,
        "paragraphs": [
            {"index": i, "start": span.start, "end": span.end,
             "topics": [{"label": t, "score": _r(p.topic_scores[t])} for t in p.topics],
             "stance": {"label": p.stance, "scores": {s: _r(v) for s, v in p.stance_scores.items()}},
             "furniture": p.furniture}
            for i, (span, p) in enumerate(zip(result.spans, labels.paragraphs, strict=True))
        ],
        "partners": [
            {"name": partner.name, "salience": _r(partner.salience),
             "stance": {"label": partner.stance, "scores": {s: _r(v) for s, v in partner.stance_scores.items()}},
             "evidence": partner.evidence,
             "mentions": [{"paragraph": m.paragraph, "start": m.start, "end": m.end, "text": m.text}
                          for m in partner.mentions]}
            for partner in result.partners or []
        ],
        "evidence": {"topics": labels.evidence.topics, "stance": labels.evidence.stance,
                     "in_scope": labels.evidence.in_scope},
        "explanation": None,
    }
    if result.explanation is not None:
        body["explanation"] = {label: [{"term": term, "weight": weight} for term, weight in terms]
                               for label, terms in result.explanation.items()}
    return body

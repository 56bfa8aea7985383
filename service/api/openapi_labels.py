"""The OpenAPI schema, with the label fields of feedback and the partner names enumerated from
the loaded model.

Labels are data (the codebook inside the model), not Python constants, so the schema is built
when first asked for and rebuilt when a reload brings another model version: /docs then
lists the real topic and stance ids, and clients can validate before sending.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

LABEL_FIELDS = {"ArticleFeedback": ("topics", "stance"), "ParagraphFeedback": ("topics", "stance"),
                "ParagraphCorrection": ("topics", "stance"), "PartnerOut": ("name",)}


def _enumerate(node: Any, labels: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string":
            node.pop("pattern", None)
            node["enum"] = labels
        for key in ("anyOf", "oneOf", "items"):
            children = node.get(key)
            for child in children if isinstance(children, list) else [children]:
                _enumerate(child, labels)


def install_label_aware_openapi(app: FastAPI) -> None:
    built_for: dict[str, str | None] = {"model": "unset"}

    def openapi() -> dict[str, Any]:
        loaded = app.state.holder.current
        codebook = loaded.classifier.codebook if loaded else None
        partners = loaded.classifier.partner_names if loaded else []
        key = loaded.version if loaded else None  # a model version fixes its codebook and its partners
        if app.openapi_schema is None or built_for["model"] != key:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            if codebook is not None:
                components = schema.get("components", {}).get("schemas", {})
                for model, fields in LABEL_FIELDS.items():
                    for field in fields:
                        labels = {"topics": codebook.topic_ids, "stance": codebook.stance_ids,
                                  "name": partners}[field]
                        _enumerate(components.get(model, {}).get("properties", {}).get(field), labels)
            app.openapi_schema, built_for["model"] = schema, key
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

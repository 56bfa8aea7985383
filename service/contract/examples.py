"""Realistic bodies for the OpenAPI docs, taken from a seed article (shared/seeds/002).

The response example is a real answer of the shipped model to the request example, saved as
JSON by `make examples` so the docs never show an invented shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEED_TITLE = "Pakistan, Japan renew resolve at 9th High-Level Economic Policy Dialogue"
SEED_TEXT = (
    "ISLAMABAD, Sep 10 (APP): Pakistan and Japan renewed their resolve to strengthening the longstanding "
    "economic and diplomatic partnership as the Ministry of Economic Affairs hosted the 9th Session of the "
    "Japan-Pakistan High-Level Economic Policy Dialogue (JPHLEPD) here.\n\n"
    "Secretary, EAD reiterated that Japan remains a key trade partner, with bilateral trade standing at "
    "$1.54 billion in FY 2024 – 25.\n\n"
    "In his remarks, Dr. Kazim Niaz expressed deep appreciation for Japan’s continuous development "
    "support—over $11.38 billion in Official Development Assistance (ODA) through JICA since 1954.\n\n"
    "Pakistan side focus on skilled human capital development and labor mobility. In line with Japan’s "
    "Specified Skilled Workers (SSW) and Technical Intern Training Program (TITP), Pakistan side proposed "
    "the establishment of a Center of Excellence for Japanese Language Training with JICA’s technical support."
)

CLASSIFY_REQUEST_EXAMPLE: dict[str, Any] = {"id": "app-2025-09-10-jphlepd", "title": SEED_TITLE, "text": SEED_TEXT}
BATCH_REQUEST_EXAMPLE: dict[str, Any] = {
    "items": [CLASSIFY_REQUEST_EXAMPLE,
              {"id": "brief-2", "text": "Pakistan and Turkey signed a trade-in-goods agreement in Islamabad."}]
}
FEEDBACK_REQUEST_EXAMPLE: dict[str, Any] = {
    "level": "paragraph",
    "text": "Secretary, EAD reiterated that Japan remains a key trade partner, with bilateral trade standing "
            "at $1.54 billion in FY 2024 – 25.",
    "topics": ["trade"],
    "stance": "neutral",
    "note": "Figures only: neutral by the codebook.",
    "annotator": "amina",
    "client_id": "8f14e45f-ea5b-4c1e-9f0e-2b7d1c3a9e10",
    "model_version": "20261124-021119",
}

ARTICLE_FEEDBACK_EXAMPLE: dict[str, Any] = {
    "level": "article",
    "text": SEED_TEXT,
    "title": SEED_TITLE,
    "topics": ["diplomacy", "trade", "development_aid", "people_exchange"],
    "stance": "supportive",
    "in_scope": True,
    "paragraphs": [{"index": 1, "topics": ["trade"], "stance": "neutral"}],
    "annotator": "amina",
    "client_id": "3c59dc04-8f1a-4b8e-a7a5-0d5c1f7e2b44",
    "model_version": "20261124-021119",
}

RESPONSE_FILE = Path(__file__).with_name("classify_response_example.json")
CLASSIFY_RESPONSE_EXAMPLE: dict[str, Any] = (
    json.loads(RESPONSE_FILE.read_text(encoding="utf-8")) if RESPONSE_FILE.exists() else {}
)

"""`make examples`: save the shipped model's real answer to the docs' request example.

Kept out of request handling on purpose: the docs show a real response without the service
classifying anything at start-up.
"""

from __future__ import annotations

import json

from service.contract.examples import CLASSIFY_REQUEST_EXAMPLE, RESPONSE_FILE
from service.contract.responses import classification_body
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import load_verified_model
from service.settings import Settings


def main() -> None:
    loaded = load_verified_model(Settings().model_dir)
    request = CLASSIFY_REQUEST_EXAMPLE
    (result,) = classify_articles(loaded.classifier, [ArticleInput(request["text"], request["title"])])
    body = classification_body(result, loaded.version, request["id"], loaded.classifier.rule.scope_threshold)
    RESPONSE_FILE.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESPONSE_FILE} from model {loaded.version}")


if __name__ == "__main__":
    main()

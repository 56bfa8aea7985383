"""An MLServer runtime serving the shipped model, for `python -m bench.run --peer` (bench/peer.py).

It runs inside MLServer's own venv (MLServer pins a FastAPI older than ours), with the repository on
PYTHONPATH rather than installed: only the model core and the response shaping are imported, and they
need nothing but scikit-learn, numpy, scipy and joblib, installed there at our pinned versions.

POST /v1/classify takes the body our service takes and answers with the body our service answers, built
by the same two calls as service/api/classify.py, so the benchmark compares the servers around the model
and nothing else. No `from __future__ import annotations` here: FastAPI reads the handler's signature
through MLServer's parallel wrapper, whose module would not resolve string annotations.
"""

from pathlib import Path

from mlserver import MLModel
from mlserver.handlers import custom_handler
from mlserver.utils import get_model_uri

from service.contract.responses import classification_body
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import LoadedModel, load_verified_model

CLASSIFY_PATH = "/v1/classify"


class PakrelRuntime(MLModel):
    """The model as MLServer hosts it: loaded in each inference worker, called through a custom route.

    MLServer's V2 /infer protocol would need our article turned into tensors and back, which is work no
    user of this service does; the custom route is how MLServer serves a JSON API of one's own."""

    async def load(self) -> bool:
        # The model folder (with CURRENT and the version folders) comes from parameters.uri, as MLServer's
        # own runtimes find their artefacts; the same verification as our service runs on it.
        self._loaded: LoadedModel = load_verified_model(Path(await get_model_uri(self.settings)))
        return True

    # No return annotation on purpose: FastAPI would take it as a response model, and MLServer's routes
    # drop None fields from response models (`id` and `explanation` are null in our bodies).
    @custom_handler(rest_path=CLASSIFY_PATH)
    async def classify(self, payload: dict):
        """One article, classified in this worker's event loop: MLServer runs a custom handler there (in an
        inference worker process when parallel_workers > 0), as it runs its own runtimes' predict."""
        loaded = self._loaded
        article = ArticleInput(payload["text"], payload.get("title") or "")
        result = classify_articles(loaded.classifier, [article], False)[0]
        return classification_body(result, loaded.version, payload.get("id"), loaded.classifier.rule.scope_threshold)

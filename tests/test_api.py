"""The HTTP API on a tiny model: whole bodies for every route and every error."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.contract.responses import classification_body
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import load_verified_model
from service.settings import Settings

ARTICLE = ("ISLAMABAD: Pakistan and Japan signed a grant agreement for flood-hit schools in Sindh on Monday.\n\n"
           "Bilateral trade stood at $1.54 billion in FY2024-25, officials said.\n\n"
           "By our staff reporter")


def expected_body(model_dir: Path, text: str, title: str = "", client_id: str | None = None,
                  explain: bool = False) -> dict:
    """What the service must answer: the shared classify function's result in the shared shape."""
    loaded = load_verified_model(model_dir)
    (result,) = classify_articles(loaded.classifier, [ArticleInput(text, title)], explain)
    body = classification_body(result, loaded.version, client_id, loaded.classifier.rule.scope_threshold)
    return json.loads(json.dumps(body))


def test_classify_returns_the_whole_labelled_article(client: TestClient, settings: Settings) -> None:
    response = client.post("/v1/classify", json={"text": ARTICLE, "title": "Japan grant", "id": "a-17"})
    assert response.status_code == 200
    body = response.json()
    assert body == expected_body(settings.model_dir, ARTICLE, "Japan grant", "a-17")
    assert body["id"] == "a-17" and body["explanation"] is None
    assert [ARTICLE[p["start"]:p["end"]] for p in body["paragraphs"]] == ARTICLE.split("\n\n")
    assert list(body["topic_scores"]) == load_verified_model(settings.model_dir).classifier.codebook.topic_ids
    scores = [t["score"] for t in body["topics"]]
    assert scores == sorted(scores, reverse=True)
    assert abs(sum(body["stance"]["scores"].values()) - 1) < 1e-3
    for label, indices in body["evidence"]["topics"].items():
        assert label in [t["label"] for t in body["topics"]] and indices
    assert response.headers["x-request-id"]


def test_explain_adds_terms_from_the_article_for_each_assigned_label(client: TestClient, settings: Settings) -> None:
    body = client.post("/v1/classify?explain=true", json={"text": ARTICLE}).json()
    assert body == expected_body(settings.model_dir, ARTICLE, explain=True)
    assigned = {t["label"] for t in body["topics"]}
    assert assigned <= set(body["explanation"])
    words = ARTICLE.lower().replace("$1.54", "$0.00")
    for terms in body["explanation"].values():
        for term in terms:
            assert term["weight"] > 0
            assert all(token in words.replace("2024-25", "0000-00") or token.strip("0") == ""
                       for token in term["term"].split())


def test_batch_answers_in_order_with_the_single_answers(client: TestClient, settings: Settings) -> None:
    items = [{"text": ARTICLE, "id": "one"}, {"text": "Gold prices rose in Karachi.", "id": "two"}]
    response = client.post("/v1/classify/batch", json={"items": items})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == load_verified_model(settings.model_dir).version
    assert body["results"] == [expected_body(settings.model_dir, i["text"], client_id=i["id"]) for i in items]


@pytest.mark.parametrize(("payload", "fields"), [
    ({"text": "   \n\t "}, [{"field": "text", "message": "must contain some non-whitespace text"}]),
    ({}, [{"field": "text", "message": "is required"}]),
    ({"text": 42}, [{"field": "text", "message": "Input should be a valid string"}]),
    ({"text": "ok", "title": ["x"]}, [{"field": "title", "message": "Input should be a valid string"}]),
    ({"text": "ok", "colour": "red"}, [{"field": "colour", "message": "is not a known field; remove it"}]),
    ({"text": "a\u0000b"}, [{"field": "text", "message": "contains NUL characters (\\u0000); remove them"}]),
    ([1, 2], [{"field": "body", "message": "must be a JSON object"}]),
])
def test_invalid_bodies_get_422_naming_the_field(client: TestClient, payload, fields) -> None:
    response = client.post("/v1/classify", json=payload)
    assert response.status_code == 422
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    assert response.json() == {"error": "invalid_request", "message": summary, "fields": fields}


def test_unpaired_surrogate_is_refused_not_a_500(client: TestClient) -> None:
    response = client.post("/v1/classify", content=b'{"text": "bad \\ud800 text"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "text", "message": "contains invalid Unicode at position 4 "
                                                                      "(an unpaired surrogate); send valid UTF-8 text"}]


@pytest.mark.parametrize("body", [b'{"text": "\xff\xfe broken"}', b'{"text": ', b"not json at all"])
def test_unparseable_bodies_get_a_clear_4xx(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.json()["error"] in ("invalid_body", "invalid_request")
    assert "JSON" in response.json()["message"]


def test_text_over_the_limit_is_413_naming_the_limit(tmp_path: Path, model_dir_copy: Path) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", max_text_chars=100)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/classify", json={"text": "x" * 101})
        batch = client.post("/v1/classify/batch", json={"items": [{"text": "ok"}, {"text": "y" * 150}]})
    assert response.status_code == 413
    assert response.json() == {
        "error": "text_too_long",
        "message": "text is 101 characters; the limit is 100 (PAKREL_MAX_TEXT_CHARS): split the article into parts",
        "fields": [{"field": "text", "message": "longer than 100 characters"}]}
    assert batch.status_code == 413
    assert batch.json()["fields"] == [{"field": "items[1].text", "message": "longer than 100 characters"}]


def test_body_over_the_byte_limit_is_refused_before_it_is_read(tmp_path: Path, model_dir_copy: Path) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/classify", json={"text": "word " * 1000})
        streamed = client.post("/v1/classify", content=iter([b'{"text": "', b"a" * 4096, b'"}']),
                               headers={"content-type": "application/json"})
        assert client.get("/health/live").status_code == 200
    expected = {"error": "body_too_large", "message": "request body is over the 2048-byte limit "
                "(PAKREL_MAX_BODY_BYTES); send fewer or shorter articles per request"}
    assert (response.status_code, response.json()) == (413, expected)
    assert (streamed.status_code, streamed.json()) == (413, expected)


def test_batch_limits_and_invalid_items_are_reported_by_index(tmp_path: Path, model_dir_copy: Path) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", max_batch_items=2)
    with TestClient(create_app(settings)) as client:
        too_many = client.post("/v1/classify/batch", json={"items": [{"text": "a"}] * 3})
        invalid = client.post("/v1/classify/batch", json={"items": [{"text": "a"}, {"text": " "}]})
        empty = client.post("/v1/classify/batch", json={"items": []})
    assert too_many.status_code == 413
    assert too_many.json() == {
        "error": "batch_too_large",
        "message": "items has 3 articles; the limit is 2 (PAKREL_MAX_BATCH_ITEMS): send several batches",
        "fields": [{"field": "items", "message": "more than 2 items"}]}
    assert invalid.status_code == 422
    assert invalid.json()["fields"] == [{"field": "items[1].text", "message": "must contain some non-whitespace text"}]
    assert empty.status_code == 422
    assert empty.json()["fields"][0]["field"] == "items"


def test_ten_thousand_one_word_paragraphs_and_one_huge_paragraph_are_answered(client: TestClient) -> None:
    many = "\n\n".join(["word"] * 10_000)
    response = client.post("/v1/classify", json={"text": many})
    assert response.status_code == 200 and len(response.json()["paragraphs"]) == 10_000
    huge = ("Pakistan and China discussed trade. " * 2800)[:100_000]
    response = client.post("/v1/classify", json={"text": huge})
    assert response.status_code == 200 and len(response.json()["paragraphs"]) == 1
    assert client.get("/health/ready").status_code == 200


def test_labels_and_model_describe_the_loaded_model(client: TestClient, settings: Settings) -> None:
    loaded = load_verified_model(settings.model_dir)
    labels = client.get("/v1/labels").json()
    assert labels == {"model_version": loaded.version,
                      "codebook": json.loads(json.dumps(loaded.classifier.codebook.to_dict())),
                      "partners": loaded.classifier.partner_names}
    assert len(labels["partners"]) >= 270 and "Pakistan" not in labels["partners"]
    assert {"China", "United States", "IMF", "European Union", "Financial Action Task Force"} <= set(labels["partners"])
    model = client.get("/v1/model").json()
    assert model["model_version"] == loaded.version
    assert model["summary_metrics"] == loaded.manifest["summary_metrics"]
    assert model["manifest"] == {k: v for k, v in loaded.manifest.items() if k != "codebook"}


def test_health_metrics_and_not_ready_without_a_model(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready" and ready["last_reload_error"] is None
    client.post("/v1/classify", json={"text": ARTICLE})
    metrics = client.get("/metrics").text
    assert 'pakrel_http_requests_total{method="POST",route="/v1/classify",status="200"} 1.0' in metrics
    assert f'pakrel_model_info{{version="{ready["model_version"]}"}} 1.0' in metrics
    assert "pakrel_http_request_duration_seconds_bucket" in metrics
    assert 'pakrel_predicted_labels_total{kind="stance"' in metrics

    empty = Settings(model_dir=tmp_path / "no-models", feedback_dir=tmp_path / "fb")
    with TestClient(create_app(empty)) as bare:
        response = bare.get("/health/ready")
        classify = bare.post("/v1/classify", json={"text": "x"})
    reason = f"no model in {tmp_path / 'no-models'}: CURRENT is missing or empty; run `make train`"
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "model_version": None, "reason": reason,
                               "last_reload_error": reason, "worker": os.getpid()}
    assert classify.status_code == 503
    assert classify.json() == {"error": "model_not_ready", "message": f"no model is loaded: {reason}"}


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/v1/nothing").json() == {"error": "not_found", "message": "no such endpoint; see /docs"}
    response = client.get("/v1/classify")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_api_key_protects_admin_and_optionally_everything(tmp_path: Path, model_dir_copy: Path) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", api_key="s3cret")
    unauthorized = {"error": "unauthorized",
                    "message": "missing or wrong API key: send it in the X-API-Key header"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/admin/reload").json() == unauthorized
        assert client.post("/v1/admin/reload", headers={"X-API-Key": "nope"}).status_code == 401
        assert client.post("/v1/admin/reload", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/v1/feedback", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.post("/v1/classify", json={"text": ARTICLE}).status_code == 200
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", api_key="s3cret", protect_all=True)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/classify", json={"text": ARTICLE})
        assert (response.status_code, response.json()) == (401, unauthorized)
        assert client.post("/v1/classify", json={"text": ARTICLE}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/health/ready").status_code == 200


def test_one_access_log_line_per_request_without_text_or_secrets(
        tmp_path: Path, model_dir_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", api_key="s3cret")
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO, logger="pakrel.access"):
        client.post("/v1/classify", json={"text": "SECRET-ARTICLE-TEXT about Japan"},
                    headers={"X-API-Key": "s3cret", "X-Request-ID": "req-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "pakrel.access"]
    assert len(lines) == 1
    line = lines[0]
    assert {k: line[k] for k in ("event", "request_id", "method", "route", "status")} == {
        "event": "request", "request_id": "req-1", "method": "POST", "route": "/v1/classify", "status": 200}
    assert line["model_version"] == load_verified_model(settings.model_dir).version
    assert line["latency_ms"] > 0
    text = caplog.text
    assert "SECRET-ARTICLE-TEXT" not in text and "s3cret" not in text


def test_openapi_documents_examples_and_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    classify = schema["paths"]["/v1/classify"]["post"]
    assert set(classify["responses"]) >= {"200", "400", "401", "413", "422", "503"}
    request_schema = schema["components"]["schemas"]["ArticleRequest"]
    assert request_schema["examples"][0]["text"].startswith("ISLAMABAD, Sep 10 (APP)")
    assert schema["components"]["schemas"]["ClassifyResponse"]["examples"][0]["paragraphs"]
    assert "409" in schema["paths"]["/v1/admin/reload"]["post"]["responses"]


def test_openapi_enumerates_the_loaded_models_labels_for_feedback(client: TestClient, settings: Settings) -> None:
    codebook = load_verified_model(settings.model_dir).classifier.codebook
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("ArticleFeedback", "ParagraphFeedback", "ParagraphCorrection"):
        stance = components[model]["properties"]["stance"]
        topics = components[model]["properties"]["topics"]
        assert {"enum": codebook.stance_ids, "type": "string"} in stance["anyOf"]
        assert topics["anyOf"][0]["items"] == {"enum": codebook.topic_ids, "type": "string"}


def _invalid_request(fields: list[dict[str, str]]) -> dict:
    return {"error": "invalid_request", "message": "; ".join(f"{f['field']}: {f['message']}" for f in fields),
            "fields": fields}


@pytest.mark.parametrize("value", ["0", "1", "True", "yes", "on", ""])
def test_explain_is_exactly_true_or_false_as_the_schema_says(client: TestClient, value: str) -> None:
    for path, body in (("/v1/classify", {"text": ARTICLE}), ("/v1/classify/batch", {"items": [{"text": ARTICLE}]})):
        response = client.post(path, params={"explain": value}, json=body)
        assert (response.status_code, response.json()) == (
            422, _invalid_request([{"field": "explain", "message": "must be true or false"}]))
    plain = client.post("/v1/classify", params={"explain": "false"}, json={"text": ARTICLE})
    assert plain.status_code == 200 and plain.json()["explanation"] is None


def test_unknown_query_parameters_are_refused_naming_them(client: TestClient) -> None:
    misspelt = client.post("/v1/classify", params={"explian": "true"}, json={"text": ARTICLE})
    assert (misspelt.status_code, misspelt.json()) == (422, _invalid_request([
        {"field": "explian", "message": "is not a known query parameter (this endpoint takes explain); remove it"}]))
    live = client.get("/health/live", params={"b": "1", "a": "2"})
    assert (live.status_code, live.json()) == (422, _invalid_request([
        {"field": name, "message": "is not a known query parameter (this endpoint takes none); remove it"}
        for name in ("a", "b")]))
    assert client.get("/", params={"utm_source": "mail"}).status_code == 200  # the page is not the API

"""`pakrel-bulk`: same answers as the API, resumable, every bad record reported, same output on
any number of workers or on Dask. Archives are generated from the tiny corpus's paragraphs."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.bulk.cli import BulkJob, main, run
from service.settings import Settings
from tests.partner_texts import CHINA_TEXT, JAPAN_TEXT
from training.validation import load_corpus

ROOT = Path(__file__).resolve().parent.parent


def make_articles(data_dir: Path, count: int, seed: int = 7) -> list[dict]:
    """Articles of 1-6 corpus paragraphs; two in three with a title, some as single lines."""
    corpus = load_corpus(data_dir)
    paragraphs = [p.text for a in corpus.articles for p in a.paragraphs]
    titles = [a.title for a in corpus.articles]
    rng = random.Random(seed)
    articles = []
    for index in range(count):
        separator = "\n" if index % 5 == 0 else "\n\n"
        article = {"id": f"art-{index:05d}", "text": separator.join(rng.sample(paragraphs, rng.randint(1, 6)))}
        if index % 3:
            article["title"] = rng.choice(titles)
        articles.append(article)
    return articles


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def bulk(source: Path, out: Path, model_dir: Path, *options: str) -> int:
    return main(["classify", "--in", str(source), "--out", str(out), "--model-dir", str(model_dir),
                 "--no-progress", *options])


def bulk_process(source: Path, out: Path, model_dir: Path, *options: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "service.bulk.cli", "classify", "--in", str(source), "--out", str(out),
               "--model-dir", str(model_dir), "--no-progress", *options]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_run(source: Path, out: Path, model_dir: Path, after_lines: int, signum: int) -> tuple[int, str]:
    """A one-worker run in chunks of 10, sent `signum` once `out` has `after_lines` lines."""
    process = bulk_process(source, out, model_dir, "--jobs", "1", "--chunk-size", "10")
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_bytes().count(b"\n") >= after_lines):
        assert process.poll() is None and time.monotonic() < deadline, f"{out} never reached {after_lines} lines"
        time.sleep(0.01)
    process.send_signal(signum)
    stdout, _ = process.communicate(timeout=60)
    return process.returncode, stdout


def read_errors(out: Path) -> list[tuple]:
    records = [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_text().splitlines()]
    return [(Path(r["source"]).name, r["line"], r["id"], r["error"]) for r in records]


@pytest.fixture(scope="module")
def articles(tiny_data_dir: Path) -> list[dict]:
    return make_articles(tiny_data_dir, 120)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, articles: list[dict]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("archive") / "archive.jsonl", articles)


@pytest.fixture(scope="module")
def local_labels(tmp_path_factory: pytest.TempPathFactory, archive: Path, tiny_models_dir: Path) -> Path:
    """The reference: the archive labelled by one in-process worker."""
    out = tmp_path_factory.mktemp("local") / "labels.jsonl"
    assert bulk(archive, out, tiny_models_dir, "--jobs", "1") == 0
    return out


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path, tiny_models_dir: Path) -> tuple:
    """An archive long enough to interrupt, with its labels from a clean run."""
    folder = tmp_path_factory.mktemp("big")
    source = write_jsonl(folder / "big.jsonl", make_articles(tiny_data_dir, 3000, seed=11))
    assert bulk(source, folder / "clean.jsonl", tiny_models_dir, "--jobs", "1") == 0
    return source, folder / "clean.jsonl"


def test_each_output_line_is_the_api_answer_for_that_article(client, settings: Settings, articles: list[dict],
                                                             tmp_path: Path) -> None:
    some = articles[:40]
    out = tmp_path / "labels.jsonl"
    assert bulk(write_jsonl(tmp_path / "some.jsonl", some), out, settings.model_dir, "--jobs", "1") == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    answers = []
    for article in some:
        response = client.post("/v1/classify", json=article)
        assert response.status_code == 200
        answers.append(response.json())
    assert lines == answers


def test_explain_adds_the_same_explanation_as_the_api(client, settings: Settings, articles: list[dict],
                                                       tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    some = articles[:3]
    assert bulk(write_jsonl(tmp_path / "some.jsonl", some), out, settings.model_dir, "--explain") == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [client.post("/v1/classify?explain=true", json=a).json() for a in some]
    assert all(line["explanation"] for line in lines)


def test_two_jobs_write_the_same_file_as_one(archive: Path, local_labels: Path, tiny_models_dir: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    assert bulk(archive, out, tiny_models_dir, "--jobs", "2", "--chunk-size", "9") == 0
    assert out.read_bytes() == local_labels.read_bytes()
    assert out.read_bytes().count(b"\n") == 120


def test_rerun_after_kill_9_finishes_the_file_of_a_clean_run(big_archive: tuple, tiny_models_dir: Path,
                                                              tmp_path: Path) -> None:
    source, clean = big_archive
    out = tmp_path / "labels.jsonl"
    assert interrupt_run(source, out, tiny_models_dir, 30, signal.SIGKILL)[0] == -signal.SIGKILL
    written = out.read_bytes()
    done = written.count(b"\n")
    assert 30 <= done < 3000 and clean.read_bytes().startswith(written)
    # A kill can land in the middle of a write: leave half a line, as that would.
    next_line = clean.read_bytes()[len(written):].split(b"\n", 1)[0]
    out.write_bytes(written + next_line[: len(next_line) // 2])

    rerun = bulk_process(source, out, tiny_models_dir, "--jobs", "2")
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert f"{3000 - done:,} articles labelled, 0 errors" in stdout
    assert f"{done:,} skipped" in stdout
    assert out.read_bytes() == clean.read_bytes()


def test_ctrl_c_stops_after_a_whole_chunk_and_the_rerun_completes(big_archive: tuple, tiny_models_dir: Path,
                                                                   tmp_path: Path) -> None:
    source, clean = big_archive
    out = tmp_path / "labels.jsonl"
    returncode, stdout = interrupt_run(source, out, tiny_models_dir, 20, signal.SIGINT)
    assert returncode == 130
    assert "interrupted: rerun the same command to continue" in stdout
    written = out.read_bytes()
    assert written.endswith(b"\n") and written.count(b"\n") % 10 == 0 and written.count(b"\n") < 3000
    assert clean.read_bytes().startswith(written)

    assert bulk(source, out, tiny_models_dir, "--jobs", "1") == 0
    assert out.read_bytes() == clean.read_bytes()


def test_every_kind_of_bad_record_is_reported_with_its_line(articles: list[dict], tiny_models_dir: Path,
                                                            tmp_path: Path) -> None:
    good = articles[:4]
    long_paragraphs = "\n\n".join(["A paragraph."] * 6)
    lines = [
        json.dumps(good[0]),                                          # 1
        "{not json",                                                  # 2 malformed
        json.dumps([good[1]]),                                        # 3 not an object
        json.dumps({"text": "Pakistan and China met."}),              # 4 no id
        json.dumps({"id": "no-text", "title": "t"}),                  # 5 no text
        "",                                                           # 6 blank: not a record
        json.dumps({"id": "too-long", "text": "x" * 2001}),           # 7 over max_text_chars
        json.dumps({"id": "too-many", "text": long_paragraphs}),      # 8 over max_paragraphs
        json.dumps({"id": "blank", "text": "   "}),                   # 9 no non-whitespace text
        json.dumps({"id": ["a"], "text": "Pakistan."}),               # 10 id of the wrong type
        json.dumps(good[1]),                                          # 11
        json.dumps({**good[2], "id": good[0]["id"]}),                 # 12 duplicate id
        json.dumps({"id": "nul", "text": "Pakistan\u0000"}),          # 13 NUL character
        json.dumps(good[3]),                                          # 14
    ]
    source = tmp_path / "archive.jsonl"
    source.write_bytes("\n".join(lines).encode() + b"\n" + b'{"id": "latin-1", "text": "Caf\xe9 talks"}\n'  # 15
                       b'{"id": 17, "text": "Pakistan and Japan signed an agreement."}\n')  # 16: a number id
    out = tmp_path / "labels.jsonl"
    settings = Settings(model_dir=tiny_models_dir, max_text_chars=2000, max_paragraphs=5)
    summary = run(BulkJob(source, out, settings, jobs=1, chunk_size=4, progress=False))

    assert read_errors(out) == [
        ("archive.jsonl", 2, None, "malformed_json"),
        ("archive.jsonl", 3, None, "malformed_json"),
        ("archive.jsonl", 4, None, "missing_id"),
        ("archive.jsonl", 5, "no-text", "missing_text"),
        ("archive.jsonl", 7, "too-long", "text_too_long"),
        ("archive.jsonl", 8, "too-many", "too_many_paragraphs"),
        ("archive.jsonl", 9, "blank", "invalid_field"),
        ("archive.jsonl", 10, None, "invalid_field"),
        ("archive.jsonl", 12, good[0]["id"], "duplicate_id"),
        ("archive.jsonl", 13, "nul", "invalid_field"),
        ("archive.jsonl", 15, None, "invalid_utf8"),
    ]
    reasons = {r["error"]: r["reason"] for r in map(json.loads, Path(f"{out}.errors.jsonl").read_text().splitlines())}
    assert reasons["text_too_long"] == ("text is 2,001 characters; the limit is 2,000 (PAKREL_MAX_TEXT_CHARS): "
                                        "split the article into parts")
    assert "not valid UTF-8" in reasons["invalid_utf8"]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [good[0]["id"], good[1]["id"],
                                                                                 good[3]["id"], "17"]
    assert (summary.labelled, summary.errors, summary.skipped, summary.interrupted) == (4, 11, 0, False)


def test_csv_and_txt_folder_bad_records_are_reported_with_their_place(articles: list[dict], tiny_models_dir: Path,
                                                                      tmp_path: Path) -> None:
    source = tmp_path / "archive.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "text"])                                       # line 1
        writer.writerow(["a", "", "First line of a.\nSecond line of a."])              # lines 2-3
        writer.writerow(["b", "t"])                                                    # 4: a cell short
        writer.writerow(["", "t", "Pakistan."])                                        # 5: no id
        writer.writerow(["c", "t", ""])                                                # 6: no text
        writer.writerow(["long", "t", "x" * 140_000])                                  # 7: over csv's own limit
    with open(source, "ab") as handle:
        handle.write(b'd,t,"Caf\xe9\r\nmultiline"\r\n')                                 # 8-9: not UTF-8
        handle.write(b'e,t,"Fine text."\r\n')                                          # 10
    out = tmp_path / "csv.jsonl"
    assert bulk(source, out, tiny_models_dir, "--chunk-size", "2", "--jobs", "1") == 0
    assert read_errors(out) == [("archive.csv", 4, "b", "malformed_csv"), ("archive.csv", 5, None, "missing_id"),
                                ("archive.csv", 6, "c", "missing_text"), ("archive.csv", 7, "long", "text_too_long"),
                                ("archive.csv", 8, "d", "invalid_utf8")]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "e"]

    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "good.txt").write_text(articles[0]["text"], encoding="utf-8")
    (folder / "latin.txt").write_bytes(b"Caf\xe9")
    (folder / "empty.txt").write_text("\n \n", encoding="utf-8")
    (folder / "notes.md").write_text("not an article", encoding="utf-8")
    out = tmp_path / "txt.jsonl"
    assert bulk(folder, out, tiny_models_dir) == 0
    assert read_errors(out) == [("empty.txt", None, "empty", "invalid_field"),
                                ("latin.txt", None, "latin", "invalid_utf8")]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["good"]


def test_csv_and_txt_folder_give_the_labels_of_the_same_jsonl(articles: list[dict], tiny_models_dir: Path,
                                                              tmp_path: Path) -> None:
    untitled = [{"id": a["id"], "text": a["text"]} for a in articles[:25]]
    jsonl_out, csv_out, txt_out = tmp_path / "jsonl.jsonl", tmp_path / "csv.jsonl", tmp_path / "txt.jsonl"
    assert bulk(write_jsonl(tmp_path / "a.jsonl", untitled), jsonl_out, tiny_models_dir, "--jobs", "1") == 0
    with open(tmp_path / "a.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["id", "text"])
        writer.writeheader()
        writer.writerows(untitled)
    assert bulk(tmp_path / "a.csv", csv_out, tiny_models_dir, "--jobs", "1", "--chunk-size", "7") == 0
    (tmp_path / "texts").mkdir()
    for article in untitled:
        (tmp_path / "texts" / f"{article['id']}.txt").write_text(article["text"], encoding="utf-8")
    assert bulk(tmp_path / "texts", txt_out, tiny_models_dir, "--jobs", "1", "--chunk-size", "7") == 0
    assert csv_out.read_bytes() == jsonl_out.read_bytes() == txt_out.read_bytes()


def test_rerun_refuses_to_mix_labels_of_another_model(archive: Path, local_labels: Path, tiny_models_dir: Path,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "labels.jsonl"
    first = json.loads(local_labels.read_text().splitlines()[0])
    out.write_text(json.dumps({**first, "model_version": "19990101-000000"}) + "\n")
    assert bulk(archive, out, tiny_models_dir) == 2
    assert "holds labels from model 19990101-000000" in capsys.readouterr().err
    assert out.read_text().count("\n") == 1


def test_parquet_output_holds_the_jsonl_bodies_in_order(archive: Path, local_labels: Path, tiny_models_dir: Path,
                                                        tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "labels.parquet"
    assert bulk(archive, out, tiny_models_dir, "--format", "parquet", "--chunk-size", "50", "--jobs", "1") == 0
    assert sorted(p.name for p in out.iterdir()) == ["part-000001.parquet", "part-000002.parquet",
                                                     "part-000003.parquet"]
    rows = parquet.read_table(out).to_pylist(maps_as_pydicts="strict")
    assert rows == [json.loads(line) for line in local_labels.read_text().splitlines()]
    assert bulk(archive, out, tiny_models_dir, "--format", "parquet") == 0  # all done: nothing added
    assert len(list(out.iterdir())) == 3


@pytest.mark.timeout(180)
def test_dask_local_cluster_writes_the_same_file_as_the_local_run(archive: Path, local_labels: Path,
                                                                  tiny_models_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "labels.jsonl"
    assert bulk(archive, out, tiny_models_dir, "--engine", "dask", "--jobs", "2", "--chunk-size", "13") == 0
    assert out.read_bytes() == local_labels.read_bytes()


def test_a_worker_verifies_the_shipped_model_against_its_manifest(tiny_models_dir: Path) -> None:
    from service.bulk.dask_engine import package_model, worker_model
    from service.model.lifecycle import ModelLoadError, load_verified_model

    package = package_model(load_verified_model(tiny_models_dir), tiny_models_dir)
    assert worker_model(package).version == package.version
    damaged = dataclasses.replace(package, version=package.version + "-damaged",
                                  model=package.model[:-1] + bytes([package.model[-1] ^ 1]))
    with pytest.raises(ModelLoadError, match="checksum mismatch"):
        worker_model(damaged)


# ---------------------------------------------------------------- partners

TRILATERAL_TEXT = (
    "ISLAMABAD: Pakistan, Japan and China held their first trilateral dialogue on Monday, as Japanese and Chinese "
    "envoys met Pakistani ministers.\n\n"
    "Japan pledged new grants for schools in Pakistan, and Tokyo said its partnership with Pakistan would deepen.\n\n"
    "China said CPEC would expand, and Beijing promised Pakistan new power plants under its partnership with "
    "Pakistan.\n\n"
    "Pakistan's foreign minister thanked Japan and China for their support.")
CRICKET_TEXT = (
    "Lahore Qalandars beat Karachi Kings by six wickets in the final at the Gaddafi Stadium on Sunday.\n\n"
    "Fans celebrated late into the night on Mall Road.")


@pytest.fixture(scope="module")
def partner_articles(articles: list[dict]) -> list[dict]:
    """Articles that clearly name Japan, China or both with Pakistan, one that names no partner, and corpus ones."""
    return [{"id": "japan", "text": JAPAN_TEXT}, {"id": "china", "text": CHINA_TEXT, "title": "CPEC to expand"},
            {"id": "trilateral", "text": TRILATERAL_TEXT}, {"id": "cricket", "text": CRICKET_TEXT}, *articles[:16]]


@pytest.fixture(scope="module")
def partner_archive(tmp_path_factory: pytest.TempPathFactory, partner_articles: list[dict]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("partners") / "archive.jsonl", partner_articles)


@pytest.fixture(scope="module")
def partner_labels(tmp_path_factory: pytest.TempPathFactory, partner_archive: Path, tiny_models_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("partner-labels") / "labels.jsonl"
    assert bulk(partner_archive, out, tiny_models_dir, "--jobs", "1") == 0
    return out


def partner_names(body: dict) -> list[str]:
    return [p["name"] for p in body["partners"]]


def test_output_records_carry_the_partners_the_api_returns(client, partner_articles: list[dict],
                                                          partner_labels: Path) -> None:
    lines = {body["id"]: body for body in map(json.loads, partner_labels.read_text().splitlines())}
    for article in partner_articles:
        answer = client.post("/v1/classify", json=article).json()
        assert lines[article["id"]]["partners"] == answer["partners"]
        for partner in answer["partners"]:
            assert all(article["text"][m["start"]:m["end"]] == m["text"] for m in partner["mentions"])
    assert "Japan" in partner_names(lines["japan"]) and "China" in partner_names(lines["china"])
    assert {"Japan", "China"} <= set(partner_names(lines["trilateral"]))
    assert lines["cricket"]["partners"] == []


def test_partner_option_writes_only_articles_about_a_chosen_partner(partner_archive: Path, partner_labels: Path,
                                                                    tiny_models_dir: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    everything = [json.loads(line) for line in partner_labels.read_text().splitlines()]
    about_japan = [body for body in everything if "Japan" in partner_names(body)]
    assert {"japan", "trilateral"} <= {body["id"] for body in about_japan}
    out = tmp_path / "japan.jsonl"
    assert bulk(partner_archive, out, tiny_models_dir, "--partner", "japan", "--chunk-size", "3") == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == about_japan
    left_out = len(everything) - len(about_japan)
    assert f", {left_out:,} about none of the chosen partners (not written)" in capsys.readouterr().out

    either = tmp_path / "either.jsonl"
    assert bulk(partner_archive, either, tiny_models_dir, "--partner", "Japan", "--partner", "CHINA") == 0
    assert [json.loads(line) for line in either.read_text().splitlines()] == [
        body for body in everything if {"Japan", "China"} & set(partner_names(body))]
    written = either.read_bytes()
    assert bulk(partner_archive, either, tiny_models_dir, "--partner", "Japan", "--partner", "CHINA") == 0
    assert either.read_bytes() == written  # a rerun adds nothing


def test_an_unknown_partner_is_refused_naming_the_closest_one(partner_archive: Path, tiny_models_dir: Path,
                                                              tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "labels.jsonl"
    assert bulk(partner_archive, out, tiny_models_dir, "--partner", "Japan", "--partner", "Chna") == 2
    assert capsys.readouterr().err == ("pakrel-bulk: --partner 'Chna' is not a partner this model knows; the closest "
                                       "is 'China' (the valid names are the \"partners\" of GET /v1/labels)\n")
    assert not out.exists()


def expected_partner_rows(bodies: list[dict]) -> list[list[str]]:
    """The summary's rows, counted here from the output's own records."""
    stances = list(next(p for b in bodies for p in b["partners"])["stance"]["scores"])
    counts: dict[str, dict[str, int]] = {}
    for body in bodies:
        for partner in body["partners"]:
            by_stance = counts.setdefault(partner["name"], dict.fromkeys(stances, 0))
            by_stance[partner["stance"]["label"]] += 1
    ordered = sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return [["partner", "articles", *stances],
            *[[name, str(sum(c.values())), *(str(c[s]) for s in stances)] for name, c in ordered],
            ["(no partner)", str(sum(not b["partners"] for b in bodies)), *[""] * len(stances)]]


def test_partners_summary_counts_articles_per_partner_and_stance(partner_labels: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    bodies = [json.loads(line) for line in partner_labels.read_text().splitlines()]
    rows = expected_partner_rows(bodies)
    assert {"Japan", "China"} <= {row[0] for row in rows}

    assert main(["partners", str(partner_labels), "--format", "csv"]) == 0
    assert list(csv.reader(capsys.readouterr().out.splitlines())) == rows

    assert main(["partners", str(partner_labels)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [re.split(r" {2,}", line) for line in table[:-1]] == [[cell for cell in row if cell] for row in rows]
    about = sum(bool(b["partners"]) for b in bodies)
    assert table[-1] == f"{len(bodies)} articles, {about} about at least one partner"

    assert main(["partners", str(partner_labels.with_name("missing.jsonl"))]) == 2
    assert "missing.jsonl does not exist" in capsys.readouterr().err


def test_parquet_keeps_partners_as_a_list_of_structs(partner_archive: Path, partner_labels: Path,
                                                     tiny_models_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    import pyarrow
    import pyarrow.compute

    out = tmp_path / "labels.parquet"
    assert bulk(partner_archive, out, tiny_models_dir, "--format", "parquet", "--chunk-size", "8", "--jobs", "1") == 0
    capsys.readouterr()
    table = parquet.read_table(out)
    bodies = [json.loads(line) for line in partner_labels.read_text().splitlines()]
    assert table.to_pylist(maps_as_pydicts="strict") == bodies

    partner = table.schema.field("partners").type.value_type
    assert pyarrow.types.is_struct(partner)
    assert [partner.field(i).name for i in range(partner.num_fields)] == [
        "name", "salience", "stance", "evidence", "mentions"]
    assert partner.field("salience").type == pyarrow.float64()
    assert partner.field("mentions").type.value_type.field("start").type == pyarrow.int64()
    names = pyarrow.compute.struct_field(pyarrow.compute.list_flatten(table.column("partners")), "name")
    assert names.to_pylist() == [p["name"] for b in bodies for p in b["partners"]]

    assert main(["partners", str(out), "--format", "csv"]) == 0
    assert list(csv.reader(capsys.readouterr().out.splitlines())) == expected_partner_rows(bodies)

"""Bulk section of the benchmark: `pakrel-bulk` throughput and resident memory on generated archives.

Each run is the real command in a child process, timed from start to exit (start-up, model
loading and worker start included) while its whole process tree's resident memory is sampled.
Two questions are answered: how fast (`--jobs 1`, `--jobs 2`, Dask with 2 local workers, on
long articles), and whether memory stays flat as the archive grows (the same run on 10k and
100k articles). Articles are generated from the corpus's paragraphs, so the text is real news.

    python -m bench.bulk_bench [--articles 20000] [--words 800] [--memory 10000 100000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.uvicorn_server import ServerFailed, memory_mb
from training.validation import load_corpus

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.2


def generate_archive(path: Path, count: int, words: int, seed: int = 0, data_dir: Path = ROOT / "data") -> Path:
    """`count` articles of at least `words` words: corpus paragraphs drawn at random, with a title."""
    corpus = load_corpus(data_dir)
    paragraphs = [(p.text, len(p.text.split())) for a in corpus.articles for p in a.paragraphs]
    titles = [a.title for a in corpus.articles]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            chosen: list[str] = []
            length = 0
            while length < words:
                text, size = rng.choice(paragraphs)
                chosen.append(text)
                length += size
            handle.write(json.dumps({"id": f"gen-{index:07d}", "title": rng.choice(titles),
                                     "text": "\n\n".join(chosen)}) + "\n")
    return path


def measure(options: list[str], source: Path, out: Path, model_dir: Path) -> dict[str, Any]:
    """Run the command once: wall time, peak resident memory of the main process, and peak PSS of
    all its processes (shared library pages counted once, so workers are not double-counted)."""
    command = [sys.executable, "-m", "service.bulk.cli", "classify", "--in", str(source), "--out", str(out),
               "--model-dir", str(model_dir), "--no-progress", *options]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    main = psutil.Process(process.pid)
    peak_main = peak_all = 0.0
    while process.poll() is None:
        try:
            sizes = [memory_mb(p.pid) for p in [main, *main.children(recursive=True)]]
        except (psutil.NoSuchProcess, OSError, ServerFailed):
            continue  # a process ended (or is ending) while being sampled
        peak_main = max(peak_main, sizes[0]["rss"])
        peak_all = max(peak_all, sum(size["pss"] for size in sizes))
        time.sleep(SAMPLE_SECONDS)
    elapsed = time.perf_counter() - started
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {stderr[-2000:]}")
    articles = out.read_bytes().count(b"\n")
    return {"articles": articles, "seconds": round(elapsed, 1), "articles_per_s": round(articles / elapsed, 1),
            "peak_rss_main_mb": round(peak_main), "peak_pss_all_mb": round(peak_all),
            "summary": stdout.strip()}


def bulk_section(model_dir: Path = ROOT / "models", articles: int = 20_000, words: int = 800,
                 memory_counts: tuple[int, ...] = (10_000, 100_000), memory_words: int = 150,
                 work_dir: Path | None = None) -> dict[str, Any]:
    """Rows for the bench report; every run writes into a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pakrel-bulk-bench-", dir=work_dir) as folder:
        tmp = Path(folder)
        rows: list[dict[str, Any]] = []
        runs = [("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"]),
                ("dask, 2 local workers", ["--engine", "dask", "--jobs", "2"])]
        archive = generate_archive(tmp / "speed.jsonl", articles, words) if articles else None
        for name, options in runs if archive else []:
            result = measure(options, archive, tmp / f"speed-{len(rows)}.jsonl", model_dir)
            rows.append({"run": name, "words": words, **result})
        for count in memory_counts:
            source = generate_archive(tmp / f"memory-{count}.jsonl", count, memory_words, seed=count)
            result = measure(["--jobs", "2"], source, tmp / f"memory-{count}.out.jsonl", model_dir)
            rows.append({"run": f"memory, {count:,} articles, --jobs 2", "words": memory_words, **result})
    return {"section": "bulk", "model_dir": str(model_dir), "rows": rows}


def format_table(section: dict[str, Any]) -> str:
    lines = ["| run | articles | words each | seconds | articles/s | peak RSS main (MB) | peak PSS all (MB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['run']} | {r['articles']:,} | {r['words']} | {r['seconds']} | {r['articles_per_s']} | "
              f"{r['peak_rss_main_mb']} | {r['peak_pss_all_mb']} |" for r in section["rows"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000, help="articles in the throughput runs (0: none)")
    parser.add_argument("--words", type=int, default=800, help="words per article in the throughput runs")
    parser.add_argument("--memory", type=int, nargs="*", default=[10_000, 100_000],
                        help="archive sizes of the memory runs")
    parser.add_argument("--memory-words", type=int, default=150, help="words per article in the memory runs")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bulk.json")
    args = parser.parse_args(argv)
    section = bulk_section(args.model_dir, args.articles, args.words, tuple(args.memory), args.memory_words)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(section, indent=2) + "\n")
    print(format_table(section))
    print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

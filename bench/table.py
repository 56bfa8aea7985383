"""The benchmark's printed table: what the README shows, rendered from the JSON results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def render(results: dict[str, Any]) -> str:
    sections = [_header(results), _in_process(results), _http(results), _servers(results)]
    if "peers" in results:
        sections.append(_peers(results))
    if "bulk" in results:
        from bench.bulk_bench import format_table

        sections.append("Bulk command (pakrel-bulk)\n" + format_table(results["bulk"]))
    targets = [[t["name"], t["value"], t["limit"], t["verdict"]] for t in results["targets"]]
    sections.append("Targets\n" + _grid(["target", "measured", "limit", "result"], targets))
    return "\n\n".join(sections)


def _header(results: dict[str, Any]) -> str:
    model, env = results["model"], results["environment"]
    return "\n".join([
        f"$ {results['command']}",
        f"{env['cpus']} CPUs ({env['cpu_model']}), Python {env['python']}, load average before the run "
        f"{env['load_average_before']}",
        f"Model {model['version']} ({model['features']} / {model['head']}): model.joblib {model['file_mb']:.2f} MB, "
        f"trained in {model['training_seconds']} s",
    ])


def _in_process(results: dict[str, Any]) -> str:
    articles = results["articles"]
    title = (f"In process: classify_articles on {articles['count']} articles ({articles['min_words']}-"
             f"{articles['max_words']} words, median {articles['median_words']:g}, {articles['mean_paragraphs']:.1f} "
             f"paragraphs on average), median of {results['runs']} runs")
    rows = [["one article a call" if row["batch_size"] == 1 else f"batches of {row['batch_size']}",
             f"{row['articles_per_s']:.1f}", f"{row['paragraphs_per_s']:.0f}", f"{row['ms_per_article']:.2f}"]
            for row in results["in_process"]]
    return title + "\n" + _grid(["calls", "articles/s", "paragraphs/s", "ms/article"], rows)


def _http(results: dict[str, Any]) -> str:
    title = (f"Over HTTP: python -m service.api.serve on 127.0.0.1, {results['seconds']:g} s a point "
             "(1 worker pinned to its own core)")
    rows = [[str(p["workers"]), p["request"], str(p["concurrency"]), f"{p['requests_per_s']:.1f}",
             f"{p['articles_per_s']:.1f}", _ms(p["p50_ms"]), _ms(p["p99_ms"]), _ms(p["max_ms"]),
             _ms(p.get("server_cpu_ms_per_request")), str(p["errors"])]
            for p in results["http"]]
    errors = [f"  {p['workers']} worker(s), {p['request']}, concurrency {p['concurrency']}: {count} x {kind}"
              for p in results["http"] for kind, count in p["error_kinds"].items()]
    table = _grid(["workers", "request", "concurrency", "requests/s", "articles/s", "p50 ms", "p99 ms", "max ms",
                   "server CPU ms/request", "errors"], rows)
    return "\n".join([title, table, *(["Errors:", *errors] if errors else [])])


def _servers(results: dict[str, Any]) -> str:
    title = ("Servers: cold start = spawn to the first /health/ready 200; memory read after the load, "
             "RSS = heap + mapped libraries, PSS counts the libraries shared among workers once")
    rows = []
    for server in results["servers"]:
        workers, supervisor = server["worker_memory_mb"], server["supervisor_memory_mb"]
        rows.append([str(server["workers"]), f"{server['cold_start_s']:.2f} s", str(server["worker_restarts"]),
                     _each(workers, "{rss:.0f} MB"),
                     _each(workers, "{anon:.0f} + {file:.0f} MB"), _each(workers, "{pss:.0f} MB"),
                     "-" if supervisor is None else f"{supervisor['rss']:.0f} MB"])
    return title + "\n" + _grid(["workers", "cold start to ready", "worker restarts", "RSS per worker",
                                 "heap + libraries", "PSS per worker", "supervisor RSS"], rows)


OURS = "ours: python -m service.api.serve"


def _peers(results: dict[str, Any]) -> str:
    """Our single-article rows (1 and the default worker count) beside each peer's, memory summed over
    every process of the server after its load."""
    title = (f"Peers: the same model and single-article load, {results['seconds']:g} s a point (bench/peer.py); "
             "memory = every process of the server after the single-article load, RSS summed and PSS summed "
             "(libraries shared between processes counted once); our 1-worker server is pinned to its own core, "
             "the others are not")
    ours = sorted({1, results.get("default_workers", 1)})
    memory = {server["workers"]: server.get("memory_after_single_mb") for server in results["servers"]}
    rows = [_peer_row(f"{OURS}, {p['workers']} worker(s)", p, memory.get(p["workers"]))
            for p in results["http"] if p["kind"] == "single" and p["workers"] in ours]
    peer_memory = {server["server"]: server["memory_mb"] for server in results["peers"]["servers"]}
    rows += [_peer_row(p["server"], p, peer_memory.get(p["server"])) for p in results["peers"]["points"]]
    checks = [f"  {s['server']}: {s['answers']['equal']} of {s['answers']['articles']} answers equal ours; "
              f"{', '.join(f'{name} {version}' for name, version in s['versions'].items())}"
              for s in results["peers"]["servers"]]
    table = _grid(["server", "concurrency", "requests/s", "p50 ms", "p99 ms", "server CPU ms/request", "errors",
                   "RSS total", "PSS total"], rows)
    return "\n".join([title, table, *checks])


def _peer_row(name: str, point: dict[str, Any], memory: dict[str, float] | None) -> list[str]:
    return [name, str(point["concurrency"]), f"{point['requests_per_s']:.1f}", _ms(point["p50_ms"]),
            _ms(point["p99_ms"]), _ms(point.get("server_cpu_ms_per_request")), str(point["errors"]),
            "-" if memory is None else f"{memory['rss']:.0f} MB", "-" if memory is None else f"{memory['pss']:.0f} MB"]


def _each(memories: list[dict[str, float]], template: str) -> str:
    return ", ".join(template.format(**memory) for memory in memories)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table that is also Markdown, so the README can paste it unchanged."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])

"""`python -m training [train|validate|stats|evaluate|suggest|rollback]`.

Heavy imports (scikit-learn, matplotlib) happen inside the commands that need them, so
`validate` and `stats` run on a bare Python before anything is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.feedback.store import is_url
from training.validation import CorpusInvalid, format_report, load_corpus, validate_corpus

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="corpus folder")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="artifact folder")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("validate", help="check every corpus file against the codebook")
    stats = commands.add_parser("stats", help="corpus statistics")
    stats.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    train = commands.add_parser("train", help="validate, select, fit, evaluate and save a model")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--fast", action="store_true", help="skip model selection: fit the default candidate")
    train.add_argument("--all-candidates", action="store_true",
                       help="compare the whole grid of features and heads, not only the routine candidates")
    train.add_argument("--learning-curve", action="store_true",
                       help="also score 25/50/75%% of the training batches (adds a few CV runs to the time)")
    train.add_argument("--feedback", type=lambda text: text if is_url(text) else Path(text), default=None,
                       help="feedback store: a folder (default: DATA/feedback) or the service's postgresql:// URL")
    commands.add_parser("evaluate", help="rewrite the evaluation report of the current model")
    suggest = commands.add_parser("suggest", help="rank unlabelled paragraphs by model uncertainty")
    suggest.add_argument("--folder", type=Path, default=None, help="default: DATA/unlabelled")
    suggest.add_argument("--top", type=int, default=20)
    commands.add_parser("rollback", help="make the previous model current again")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "train"
    if command == "validate":
        corpus, problems = validate_corpus(args.data)
        if problems:
            print(format_report(problems), file=sys.stderr)
            return 1
        assert corpus is not None
        print(f"ok: {len(corpus.articles)} articles, {corpus.paragraph_count} paragraphs, no problems")
        return 0
    try:
        if command == "stats":
            from training.stats import corpus_stats, print_stats

            print_stats(corpus_stats(load_corpus(args.data)), as_json=args.json)
            return 0
        if command == "train":
            from training.pipeline_run import run_training

            return run_training(args.data, args.models, seed=args.seed, fast=args.fast,
                                feedback_dir=args.feedback or args.data / "feedback",
                                all_candidates=args.all_candidates, learning_curve=args.learning_curve)
        if command == "evaluate":
            from training.pipeline_run import run_evaluation

            return run_evaluation(args.data, args.models)
        if command == "suggest":
            from training.suggest import run_suggest

            return run_suggest(args.models, args.folder or args.data / "unlabelled", args.top)
        if command == "rollback":
            from training.artifact import rollback

            print(rollback(args.models))
            return 0
    except CorpusInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())

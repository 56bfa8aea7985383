"""Operator's view of the feedback store: who contributed how much, and dropping one contributor.

    python -m service.feedback contributors --store data/feedback
    python -m service.feedback drop --contributor NAME --store postgresql://...

The store is the service's PAKREL_FEEDBACK_DIR folder or its PAKREL_FEEDBACK_URL. A contributor
is the name of the API key that posted the correction (`local`: a loopback client
of a server with no key configured; empty: stored before keys had names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.feedback.store import is_url, opened


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.feedback", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("contributors", "count the stored corrections of each contributor"),
                       ("drop", "delete every correction one contributor posted")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", required=True, help="the SQLite folder or the postgresql:// URL")
        if name == "drop":
            command.add_argument("--contributor", required=True, help="the API key's name")
    args = parser.parse_args(argv)
    with opened(args.store if is_url(args.store) else Path(args.store)) as store:
        if args.command == "contributors":
            for contributor, count in store.contributors().items():
                print(f"{contributor or '(unnamed)'}\t{count}")
        else:
            print(f"dropped {store.drop_contributor(args.contributor)} correction(s) of {args.contributor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

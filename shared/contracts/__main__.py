"""Command line: `python -m shared.contracts write|check` for the schema snapshots and docs/asyncapi.json."""
from __future__ import annotations

import argparse
import sys

from shared.contracts.snapshots import WRITE_HINT, check, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="regenerate schemas/*.json and docs/asyncapi.json from the code")
    w.add_argument(
        "--allow-breaking",
        action="store_true",
        help="overwrite committed schemas even when the change is breaking (only before anyone consumed them)",
    )
    sub.add_parser("check", help="exit 1 if a committed schema would break or a generated file is stale")
    args = parser.parse_args(argv)

    if args.command == "write":
        refused = write(allow_breaking=args.allow_breaking)
        if refused:
            print("refusing to write: breaking changes to published schemas (add a new version instead):")
            for line in refused:
                print(f"  {line}")
            return 1
        print("contracts written")
        return 0

    breaking, stale = check()
    for line in breaking:
        print(f"breaking: {line}")
    for line in stale:
        print(f"stale: {line}")
    if breaking or stale:
        if stale and not breaking:
            print(WRITE_HINT)
        return 1
    print("contracts up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

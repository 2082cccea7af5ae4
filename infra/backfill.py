"""Re-derive every stored customer of a deployed stage after an upgrade (chalicelib/services/backfill.py).

Usage: python -m infra.backfill --stage prod [--region eu-west-1] [--segments 4]

Uses the AWS credentials of the shell, as `make deploy` does, and the stage's table prefix from
.chalice/config.json. Safe to run while the stack runs, and again: each customer is written under its
version, and only if a derived field differs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"


def table_prefix(stage: str) -> str:
    stages = json.loads(CONFIG.read_text())["stages"]
    if stage not in stages:
        raise SystemExit(f"error: no stage '{stage}' in {CONFIG} (stages: {', '.join(sorted(stages))})")
    return stages[stage]["environment_variables"]["TABLE_PREFIX"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments (default %(default)s)")
    args = parser.parse_args(argv)
    if not args.region:
        print("error: give --region or set AWS_DEFAULT_REGION", file=sys.stderr)
        return 2
    os.environ["TABLE_PREFIX"] = table_prefix(args.stage)
    os.environ["AWS_DEFAULT_REGION"] = args.region
    from chalicelib.services import backfill

    totals = backfill.customers(args.segments, progress=lambda done: print(f"  ... {done['read']} read",
                                                                           file=sys.stderr))
    print(f"{totals['read']} customers read, {totals['rewritten']} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Add compiled bytecode to the Lambda package.

Usage: python -m infra.bytecode CHALICE_TEMPLATE SOURCE_ZIP TARGET_ZIP

Chalice's zip holds only sources, and Lambda's code folder is read-only, so without bytecode every
cold start compiles every module it imports again (botocore, PynamoDB, Jinja2...): on the build
machine, importing app.py and the runner's handlers takes about 0.9 s that way and 0.3 s with
bytecode. The bytecode is hash-based and unchecked (PEP 552): the package never changes once built,
and a check would cost a read of every source.
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path


def runtime_of(chalice_template: dict) -> str:
    runtimes = {r["Properties"]["Runtime"] for r in chalice_template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"}
    if len(runtimes) != 1:
        raise SystemExit(f"error: expected one Lambda runtime, found {sorted(runtimes)}")
    return runtimes.pop()


def add_bytecode(source: Path, target: Path) -> int:
    """Write `target`: `source` plus a `__pycache__` entry for each module; returns how many."""
    with tempfile.TemporaryDirectory(prefix="package-") as folder:
        root = Path(folder)
        with zipfile.ZipFile(source) as zipped:
            zipped.extractall(root)
            modes = {info.filename: info.external_attr for info in zipped.infolist()}
        if not compileall.compile_dir(root, quiet=2, workers=0, legacy=False,
                                      invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
            raise SystemExit("error: a module of the package does not compile")
        compiled = 0
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                name = path.relative_to(root).as_posix()
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = modes.get(name, 0o644 << 16)
                out.writestr(info, path.read_bytes())
                compiled += name.endswith(".pyc")
    return compiled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chalice_template", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    runtime = runtime_of(json.loads(args.chalice_template.read_text()))
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        # Bytecode is per Python version: another runtime would ignore it and compile anyway.
        raise SystemExit(f"error: the functions run {runtime} but this is {here}; build with {runtime}")
    compiled = add_bytecode(args.source, args.target)
    print(f"{args.target}: {compiled} modules compiled for {runtime}, "
          f"{os.path.getsize(args.target) / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

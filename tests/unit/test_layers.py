"""The layers of the package are contracts (.importlinter), checked here with import-linter: the runner and
the services never import each other, the entry points sit on top, and the core imports no AWS library."""
from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def test_every_import_contract_is_kept():
    # In its own process: import-linter configures logging as a command line does, which would silence the
    # project's loggers for the tests that follow in this one.
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(CONFIG), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_keep_the_runner_and_the_services_apart_and_the_core_pure():
    contracts = configparser.ConfigParser()
    contracts.read(CONFIG)
    layers = contracts["importlinter:contract:layers"]["layers"]
    assert "chalicelib.services | chalicelib.runner" in layers  # independent siblings
    assert layers.strip().splitlines()[-1].strip() == "chalicelib.core"
    pure = contracts["importlinter:contract:pure-core"]
    assert {"boto3", "botocore", "pynamodb", "chalice"} <= set(pure["forbidden_modules"].split())
    assert "chalicelib.core" in pure["source_modules"].split()

"""`python -m infra.backfill`: the stage's table prefix from .chalice/config.json, and clear errors."""
from __future__ import annotations

import json

import pytest

from infra import backfill


def test_the_table_prefix_is_the_stages_own():
    stages = json.loads(backfill.CONFIG.read_text())["stages"]
    for stage, config in stages.items():
        assert backfill.table_prefix(stage) == config["environment_variables"]["TABLE_PREFIX"]
    assert backfill.table_prefix("dev") != backfill.table_prefix("prod")


def test_an_unknown_stage_is_a_clear_error_naming_the_stages():
    with pytest.raises(SystemExit, match="no stage 'staging'.*dev"):
        backfill.table_prefix("staging")


def test_without_a_region_it_says_so_and_touches_nothing(monkeypatch, capsys):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("TABLE_PREFIX", "untouched-")
    assert backfill.main(["--stage", "prod"]) == 2
    assert "--region" in capsys.readouterr().err
    import os
    assert os.environ["TABLE_PREFIX"] == "untouched-"

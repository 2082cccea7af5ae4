"""`cli import` against the local stack (`serve --manual`), as docs/behaviour.md section 9 says: a file Excel
saved for a European locale, a dry run, the commit, the same file again, and no action-taken automation fired."""
from __future__ import annotations

import json

from tests.e2e.conftest import clean_env, cli

SHEET = ("Prénom;Nom;E-mail;Portable;Date de naissance;VIP;Newsletter\r\n"
         "Zoë;Lefèvre;zoe@example.com;+33612345678;31/12/1990;oui;oui\r\n"
         "Jürgen;Weiß;pas-une-adresse;;;;\r\n"
         "Anaïs;Müller;anais@example.com;;--02-29;;non\r\n").encode("cp1252")


def _import(stack, path, tenant, *options):
    result = cli("import", str(path), "--tenant", tenant, "--api", stack.api, "--work", "here",
                 "--map", "Nom=last_name", "--map", "Newsletter=consent.email", *options,
                 env=clean_env(AWS_ENDPOINT_URL=stack.endpoint), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_import_dry_run_commit_and_again_ends_with_the_counts_and_fires_nothing(stack, tmp_path):
    tenant = "import-e2e"
    owner = stack.token(tenant)
    assert stack.call("POST", "/action-automations", owner,
                      json={"type": "email_add", "enabled": True, "channels": ["email"]}).status_code == 201
    path = tmp_path / "clients.csv"
    path.write_bytes(SHEET)

    shown, dry = _import(stack, path, tenant, "--dry-run")
    assert "cp1252" in shown and "E-mail" in shown and "would be: created 2" in shown
    assert (dry["created"], dry["rejected"]) == (2, 1)
    assert stack.call("GET", "/customers?email=zoe@example.com", owner).json()["customers"] == []

    _, done = _import(stack, path, tenant)
    assert (done["status"], done["created"], done["updated"], done["unchanged"], done["rejected"]) == ("done", 2, 0, 0, 1)
    assert (tmp_path / "clients.rejects.csv").read_bytes().decode().startswith("line,reason\r\n3,E-mail:")
    [zoe] = stack.call("GET", "/customers?email=zoe@example.com", owner).json()["customers"]
    assert (zoe["last_name"], zoe["birthday"], zoe["is_vip"], zoe["consent"]["email"]) == ("Lefèvre", "1990-12-31", True, True)

    _, again = _import(stack, path, tenant)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    # The tick reads the customers stream: the import's writes fire nothing for this store (the summary's
    # `actions_fired` counts every store of the shared stack, whose other tests' changes it reads too).
    stack.tick("2026-12-18T00:00:00+00:00")
    imported = stack.call("GET", "/customers?limit=200", owner).json()["customers"]
    assert len(imported) == 2
    for customer in imported:
        path = f"/customers/{customer['customer_id']}/communications"
        assert stack.call("GET", path, owner).json()["communications"] == [], customer["customer_id"]


def test_under_make_run_the_workers_take_the_chunks(live_stack, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(SHEET)
    result = cli("import", str(path), "--tenant", "import-live", "--api", live_stack.api, "--work", "workers",
                 env=clean_env(AWS_ENDPOINT_URL=live_stack.endpoint), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert (done["status"], done["created"], done["rejected"]) == ("done", 2, 1)

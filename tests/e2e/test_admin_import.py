"""The admin's Import page in a real browser (Playwright, headless Chromium, against a local stack of its own):
a file Excel saved as "Unicode Text" is uploaded straight to the address the API signs, its columns mapped with
a preview of its first rows, a dry run then the import followed to the end, and the rejected rows downloaded."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from playwright.sync_api import expect

from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    Store,
    admin_stack,
    browser,
    finish,
)

SHEET = ("First Name\tLast Name\tE-mail\tDOB\tNotes\r\n"
         "Zoë\tMüller\tzoe@example.com\t12/31/1990\t\"ring\r\nresized\"\r\n"
         "Bad\tRow\tnot-an-email\t\t\r\n"
         "Anaïs\tDurand\tanais@example.com\t\t\r\n").encode("utf-16")


def test_a_file_is_mapped_from_a_preview_dry_run_imported_and_its_rejects_downloaded(admin_stack, browser):  # noqa: F811
    store = Store(admin_stack, f"importer-{uuid.uuid4().hex[:6]}")
    page = store.open(browser, hash_="#/import")
    expect(page.locator("main h1")).to_have_text("Import customers")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "clients.txt", "mimeType": "text/plain", "buffer": SHEET}])
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_label("Field for E-mail")).to_have_value("email")
    expect(page.get_by_label("Field for Notes")).to_have_value("ignore")
    expect(page.locator("table.import-preview tbody tr").first).to_contain_text("Zoë")
    page.get_by_label("Dates written with slashes are").select_option("mdy")

    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#import-report")).to_contain_text("Dry run running")
    admin_stack.tick(datetime.now(timezone.utc).isoformat())   # `serve --manual`: the tick runs the chunks
    expect(page.locator("#import-report p")).to_contain_text("would be created 2, updated 0, unchanged 0, rejected 1")

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-report")).to_contain_text("Import running")
    admin_stack.tick(datetime.now(timezone.utc).isoformat())
    expect(page.locator("#import-report p")).to_contain_text("Import done: 3 of 3 rows; created 2")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download rejected rows").click()
    with open(download.value.path(), "rb") as rejects:
        assert rejects.read() == b"line,reason\r\n4,E-mail: must be an email address\r\n"
    [zoe] = store.call("GET", "/customers?email=zoe@example.com")["customers"]
    assert zoe["birthday"] == "1990-12-31"
    finish(page, "import")

"""Customer import files as spreadsheet programs save them (clienteling section 14): encodings, delimiters,
quoted line breaks, dates, the suggested mapping and each row read into the customer's fields."""
from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules import imports as im
from chalicelib.services.customers import CUSTOMER_FIELDS

HEADER = ["First Name", "Last Name", "E-mail", "Mobile", "DOB", "VIP", "Email consent"]
ROWS = [["Zoë", "Müller", "zoe@example.com", "+33612345678", "31/12/1990", "yes", "y"],
        ["Anaïs", "O'Brien", "ANAIS@example.com", "", "--02-29", "no", "0"],
        ["Björn", "Æsir; \"the jeweller\"", "bjorn@example.com", "", "", "", ""]]


def _csv(rows, delimiter, terminator="\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    return out.getvalue()


def excel_csv_utf8(rows) -> bytes:
    """Excel's "CSV UTF-8 (Comma delimited)": a byte-order mark, commas, CRLF."""
    return codecs.BOM_UTF8 + _csv(rows, ",").encode("utf-8")


def excel_csv_european(rows) -> bytes:
    """Excel's "CSV (semicolon)" in a French or German locale: Windows-1252, semicolons, CRLF, no mark."""
    return _csv(rows, ";").encode("cp1252")


def excel_unicode_text(rows) -> bytes:
    """Excel's "Unicode Text": UTF-16 LE with its mark, tabs, CRLF."""
    return _csv(rows, "\t").encode("utf-16")


def libreoffice_csv(rows) -> bytes:
    """LibreOffice's and Google Sheets' default: UTF-8 without a mark, commas, LF."""
    return _csv(rows, ",", "\n").encode("utf-8")


def read(data: bytes) -> list[list[str]]:
    text, _ = im.decode(data)
    return [r.cells for r in im.records(text, im.sniff_delimiter(text))]


@pytest.mark.parametrize("save, encoding, delimiter", [
    (excel_csv_utf8, "utf-8-sig", ","), (excel_csv_european, "cp1252", ";"),
    (excel_unicode_text, "utf-16", "\t"), (libreoffice_csv, "utf-8", ",")])
def test_files_saved_by_spreadsheet_programs_read_back_as_written(save, encoding, delimiter):
    data = save([HEADER, *ROWS])
    text, found = im.decode(data)
    assert (found, im.sniff_delimiter(text)) == (encoding, delimiter)
    assert read(data) == [HEADER, *ROWS]


def test_utf16_without_a_byte_order_mark_is_recognised_by_its_nul_bytes():
    data = _csv([HEADER, *ROWS], "\t").encode("utf-16-le")
    assert im.decode(data)[1] == "utf-16-le"
    assert read(data) == [HEADER, *ROWS]
    assert read(_csv([HEADER], "\t").encode("utf-16-be")) == [HEADER]


def test_a_file_that_claims_utf16_but_is_cut_mid_character_is_unreadable():
    with pytest.raises(im.UnreadableFile):
        im.decode(codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"\x00")


def test_quoted_fields_keep_their_line_breaks_and_line_numbers_count_physical_lines():
    text = 'name,note\r\n"Zoë","ring\r\nresized"\r\n\r\nAnaïs,ok\r\n'
    found = list(im.records(text, ","))
    assert [(r.line, r.cells) for r in found] == [(1, ["name", "note"]), (2, ["Zoë", "ring\r\nresized"]),
                                                  (5, ["Anaïs", "ok"])]


def test_a_malformed_record_is_reported_with_its_line_and_the_rest_is_read():
    text = 'name,email\nZoë,zoe@example.com\n"Ana"ïs,ana@example.com\nBjörn,bjorn@example.com\n'
    found = list(im.records(text, ","))
    assert isinstance(found[2], im.Broken) and found[2].line == 3
    assert found[3] == im.Record(4, ["Björn", "bjorn@example.com"], len(text), 5)


def test_reading_resumes_from_a_records_end_with_its_line_numbers():
    text = libreoffice_csv([HEADER, *ROWS]).decode()
    whole = list(im.records(text, ","))
    resumed = list(im.records(text, ",", start=whole[1].end, line=whole[1].next_line))
    assert resumed == whole[2:]


@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                 max_size=8), min_size=2, max_size=2), min_size=1, max_size=6),
       st.sampled_from(im.DELIMITERS), st.sampled_from(["utf-8-sig", "utf-16", "utf-8"]))
def test_any_cells_written_by_the_csv_module_read_back_in_any_accepted_encoding(rows, delimiter, encoding):
    rows = [["h1", "h2"], *rows]
    data = _csv(rows, delimiter).encode(encoding)
    text, _ = im.decode(data)
    got = [r.cells for r in im.records(text, delimiter)]
    assert got == [r for r in rows if any(c.strip() for c in r)]


def test_the_header_suggests_the_fields_that_spreadsheets_name_in_many_ways():
    header = ["First Name", "Surname", "E-mail", "Mobile", "DOB", "Birthday", "VIP", "Customer ID",
              "Accepts Email Marketing", "SMS opt-in", "Notes"]
    assert im.suggest_mapping(header) == {
        "First Name": "first_name", "Surname": "last_name", "E-mail": "email", "Mobile": "phone",
        "DOB": "birthday", "Birthday": "ignore", "VIP": "is_vip", "Customer ID": "customer_id",
        "Accepts Email Marketing": "consent.email", "SMS opt-in": "consent.sms", "Notes": "ignore"}


@pytest.mark.parametrize("mapping, message", [
    ({"Nope": "email"}, "column the file does not have"), ({"E-mail": "shoe_size"}, "unknown field"),
    ({"E-mail": "email", "Mobile": "email"}, "two columns"), ({"VIP": "is_vip"}, "no column to an id"),
    ([], "must be an object")])
def test_a_bad_mapping_is_refused_naming_the_mapping(mapping, message):
    with pytest.raises(im.ValidationFailed) as e:
        im.check_mapping(mapping, HEADER)
    assert e.value.field == "mapping" and message in e.value.message


@pytest.mark.parametrize("value, order, day", [
    ("1990-12-31", "dmy", "1990-12-31"), ("31/12/1990", "dmy", "1990-12-31"), ("12/31/1990", "mdy", "1990-12-31"),
    ("1/2/1990", "dmy", "1990-02-01"), ("1/2/1990", "mdy", "1990-01-02"), ("31.12.1990", "dmy", "1990-12-31"),
    ("--02-29", "dmy", "--02-29"), ("2024-2-29", "mdy", "2024-02-29")])
def test_dates_are_read_in_the_order_the_mapping_says(value, order, day):
    assert im.parse_day(value, order) == day


@pytest.mark.parametrize("value, order", [("31/12/1990", "mdy"), ("2023-02-29", "dmy"), ("--02-30", "dmy"),
                                          ("12/31/90", "mdy"), ("tomorrow", "dmy"), ("01/01/1850", "dmy")])
def test_what_is_not_a_date_in_that_order_is_rejected(value, order):
    with pytest.raises(im.RowRejected):
        im.parse_day(value, order)


MAPPING = {"First Name": "first_name", "E-mail": "email", "Mobile": "phone", "DOB": "birthday", "VIP": "is_vip",
           "Email consent": "consent.email"}


def test_a_row_becomes_the_customers_api_fields_and_blank_cells_are_left_out():
    assert im.row_fields(HEADER, ROWS[0], MAPPING, "dmy", CUSTOMER_FIELDS) == {
        "first_name": "Zoë", "email": "zoe@example.com", "phone": "+33612345678", "birthday": "1990-12-31",
        "is_vip": True, "consent": {"email": True}}
    assert im.row_fields(HEADER, ROWS[2], MAPPING, "dmy", CUSTOMER_FIELDS) == {
        "first_name": "Björn", "email": "bjorn@example.com"}


def test_consent_words_are_read_and_emails_kept_as_written():
    fields = im.row_fields(HEADER, ROWS[1], MAPPING, "dmy", CUSTOMER_FIELDS)
    assert fields["email"] == "ANAIS@example.com" and fields["consent"] == {"email": False}
    assert fields["is_vip"] is False


@pytest.mark.parametrize("column, value, reason", [
    ("E-mail", "not-an-address", "E-mail:"), ("DOB", "31/31/1990", "DOB:"), ("VIP", "maybe", "VIP:"),
    ("Mobile", "call me", "Mobile:")])
def test_a_bad_cell_rejects_its_row_naming_the_column(column, value, reason):
    cells = list(ROWS[0])
    cells[HEADER.index(column)] = value
    with pytest.raises(im.RowRejected) as e:
        im.row_fields(HEADER, cells, MAPPING, "dmy", CUSTOMER_FIELDS)
    assert str(e.value).startswith(reason)


def test_a_row_with_the_wrong_number_of_fields_is_rejected():
    with pytest.raises(im.RowRejected, match="has 2 fields"):
        im.row_fields(HEADER, ["a", "b"], MAPPING, "dmy", CUSTOMER_FIELDS)


def test_tags_split_on_semicolons_or_commas():
    fields = im.row_fields(["Email", "Tags"], ["a@example.com", "VIP; bridal,  watches"],
                           {"Email": "email", "Tags": "tags"}, "dmy", CUSTOMER_FIELDS)
    assert fields["tags"] == ["VIP", "bridal", "watches"]


def test_an_import_chunk_job_reads_back_as_written_and_a_malformed_one_is_refused():
    from chalicelib.services.imports import ImportJob, MalformedImportJob

    job = ImportJob("t-1", "abc", 2, 7)
    assert ImportJob.is_one(job.to_body()) and ImportJob.parse(job.to_body()) == job
    assert not ImportJob.is_one('{"kind": "campaign", "tenant_id": "t-1"}') and not ImportJob.is_one("not json")
    for body in ('{"kind": "import", "tenant_id": "t-1", "import_id": "abc", "run": 1}',
                 '{"kind": "import", "tenant_id": "t-1", "import_id": "abc", "run": "1", "chunk": 0}',
                 '{"kind": "import", "tenant_id": "", "import_id": "abc", "run": 1, "chunk": 0}',
                 '{"kind": "import", "tenant_id": "t-1", "import_id": "abc", "run": 1, "chunk": -1}'):
        with pytest.raises(MalformedImportJob):
            ImportJob.parse(body)

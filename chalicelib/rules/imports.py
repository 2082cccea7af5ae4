"""Customer import files (clienteling section 14), as pure functions: the text of the bytes a spreadsheet
program saved, its delimiter, its records with their line numbers, the mapping suggested from its header, and
each row read into the customer's API fields (or rejected with a reason).

Encoding is decided by a fixed rule rather than by statistical detection, so that the same bytes always read
the same way and a test can say why: a byte-order mark decides (UTF-8, UTF-16 LE or BE); without one, a file
whose every other byte is NUL in its first kilobyte is UTF-16 without a mark; otherwise strict UTF-8, and
when that fails, Windows-1252 (what Excel's "CSV" saves on a Western European Windows). A Windows-1252 guess
can be wrong only for a file in another 8-bit code page, which a jeweller's spreadsheet program does not
produce by default; detection libraries guess such short files wrongly more often (a name with one "é").
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Iterator, Mapping

from chalicelib.core.errors import ValidationFailed
from chalicelib.rules.validation import Check, check_id

#: Delimiters accepted, in the order a tie is settled.
DELIMITERS = (",", ";", "\t")
#: Date orders a mapping may say for the file's dates written with slashes.
DATE_ORDERS = ("dmy", "mdy")
#: A cell longer than this is a broken file (an unclosed quote swallowing the rest), not a value.
MAX_CELL = 10_000
#: Mapping targets: the customer's API field names, the consent columns, and nothing (`ignore`).
FIELDS = ("customer_id", "first_name", "last_name", "email", "phone", "birthday", "anniversary", "tags",
          "is_vip", "interests", "points_balance", "consent.email", "consent.sms")
IGNORE = "ignore"
DATE_FIELDS = ("birthday", "anniversary")

_TRUE = {"true", "yes", "y", "1", "x", "oui", "ja", "si", "sí"}
_FALSE = {"false", "no", "n", "0", "non", "nein"}


class UnreadableFile(ValueError):
    """The bytes are not a CSV this import reads (the reason says why)."""


class RowRejected(ValueError):
    """One row cannot be imported; its message is the reason given in the rejects file."""


# --- bytes to text -------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of the encoding read (module docstring)."""
    for mark, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(mark):
            return _strict(data, name), name
    head = data[:1024]
    if len(head) >= 4 and head[1::2].count(0) >= len(head) // 2 * 0.9 and head[0::2].count(0) == 0:
        return _strict(data, "utf-16-le"), "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) >= len(head) // 2 * 0.9 and head[1::2].count(0) == 0:
        return _strict(data, "utf-16-be"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise UnreadableFile("the file is neither UTF-8, UTF-16 nor Windows-1252 text") from None


def _strict(data: bytes, name: str) -> str:
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        raise UnreadableFile(f"the file says it is {name.replace('-sig', '')} but is not") from None


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the accepted one it holds most often outside quotes (comma when
    it holds none, a one-column file)."""
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- text to records -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One record of the file: the physical line it starts on (the header is line 1), its cells, and the
    offset in the text just after it with that offset's physical line (where a chunk resumes)."""

    line: int
    cells: list[str]
    end: int
    next_line: int


@dataclass(frozen=True)
class Broken:
    """A record the csv module cannot read (a stray quote, a quote never closed): its line and the reason."""

    line: int
    reason: str
    end: int
    next_line: int


class _Lines:
    """The text's physical lines for `csv.reader`, counting the lines and characters handed out."""

    def __init__(self, text: str, start: int, line: int) -> None:
        self._lines = io.StringIO(text[start:], newline="")
        self.consumed, self.line = start, line - 1

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        text = self._lines.readline()
        if not text:
            raise StopIteration
        self.consumed += len(text)
        self.line += 1
        return text


def records(text: str, delimiter: str, *, start: int = 0, line: int = 1) -> Iterator[Record | Broken]:
    """The records from `start` (a record's start, on physical line `line`), blank lines left out. A record
    the csv module cannot read is yielded as `Broken`, and reading goes on after it."""
    lines = _Lines(text, start, line)
    while True:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        first = lines.line + 1
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield Record(first, cells, lines.consumed, lines.line + 1)
                first = lines.line + 1
            return
        except csv.Error as e:
            yield Broken(first, f"unreadable CSV ({e})", lines.consumed, lines.line + 1)
        # The broken record's lines are behind us: a new reader starts after them.


# --- the header ----------------------------------------------------------------------------------

def _norm(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", plain)


_SYNONYMS = {
    "customer_id": ("customerid", "id", "clientid", "customerno", "customernumber", "clientnumber", "kundennummer"),
    "first_name": ("firstname", "first", "givenname", "forename", "prenom", "vorname", "nombre"),
    "last_name": ("lastname", "last", "surname", "familyname", "nom", "nachname", "apellido"),
    "email": ("email", "emailaddress", "mail", "courriel", "correo"),
    "phone": ("phone", "mobile", "mobilephone", "mobilenumber", "cell", "cellphone", "telephone", "tel",
              "phonenumber", "portable", "handy"),
    "birthday": ("birthday", "dob", "dateofbirth", "birthdate", "bday", "anniversaire", "geburtstag",
                 "datedenaissance", "naissance", "geburtsdatum", "fechadenacimiento"),
    "anniversary": ("anniversary", "weddinganniversary", "weddingdate", "weddingday"),
    "tags": ("tags", "tag", "labels", "groups"),
    "is_vip": ("vip", "isvip", "vipcustomer"),
    "interests": ("interests", "interest", "preferences"),
    "points_balance": ("points", "pointsbalance", "loyaltypoints", "balance"),
    "consent.email": ("emailconsent", "consentemail", "emailoptin", "acceptsemail", "acceptsemailmarketing",
                      "emailmarketing", "newsletter", "marketingemail"),
    "consent.sms": ("smsconsent", "consentsms", "smsoptin", "acceptssms", "acceptssmsmarketing", "smsmarketing",
                    "marketingsms"),
}
_BY_NAME = {synonym: field for field, synonyms in _SYNONYMS.items() for synonym in synonyms}


def suggest_mapping(header: list[str]) -> dict[str, str]:
    """Column -> field for the columns whose name says which field they hold ("First Name", "E-mail",
    "Mobile", "DOB", "VIP"...); a field is suggested for its first such column only; others are `ignore`."""
    taken: set[str] = set()
    mapping = {}
    for column in header:
        field = _BY_NAME.get(_norm(column))
        if field is None or field in taken:
            mapping[column] = IGNORE
        else:
            mapping[column] = field
            taken.add(field)
    return mapping


def check_mapping(mapping: object, header: list[str]) -> dict[str, str]:
    """A mapping given to start an import: every key a column of the header, every value a field (or `ignore`),
    no field twice. Raises ValidationFailed naming `mapping`."""
    if not isinstance(mapping, dict) or not mapping:
        raise ValidationFailed("must be an object of column names to field names", field="mapping")
    seen: set[str] = set()
    for column, field in mapping.items():
        if column not in header:
            raise ValidationFailed(f"names a column the file does not have: {column!r}", field="mapping")
        if field not in FIELDS and field != IGNORE:
            raise ValidationFailed(f"maps {column!r} to an unknown field {field!r}", field="mapping")
        if field in seen:
            raise ValidationFailed(f"maps two columns to {field!r}", field="mapping")
        if field != IGNORE:
            seen.add(field)
    if not seen & {"customer_id", "email", "first_name", "last_name", "phone"}:
        raise ValidationFailed("maps no column to an id, an email, a name or a phone", field="mapping")
    return {column: field for column, field in mapping.items() if field != IGNORE}


# --- cells to fields -----------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASHED = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_NO_YEAR = re.compile(r"--(\d{2})-(\d{2})")


def parse_day(value: str, order: str) -> str:
    """A date cell as `YYYY-MM-DD` (or `--MM-DD` when the year is unknown): `YYYY-MM-DD`, `--MM-DD`, or
    day/month/year in the mapping's `order` (`dmy` or `mdy`; `/`, `.` or `-` between)."""
    value = value.strip()
    if match := _NO_YEAR.fullmatch(value):
        month, day = int(match.group(1)), int(match.group(2))
        _check_day(2000, month, day, value)   # 2000 is a leap year: --02-29 is a birthday
        return value
    if match := _ISO.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
    elif match := _SLASHED.fullmatch(value):
        first, second, year = (int(g) for g in match.groups())
        day, month = (first, second) if order == "dmy" else (second, first)
    else:
        raise RowRejected(f"{value!r} is not a date (YYYY-MM-DD, {_order_words(order)} or --MM-DD)")
    if year < 1900:
        raise RowRejected(f"{value!r}: the year must be 1900 or later")
    _check_day(year, month, day, value)
    return f"{year:04d}-{month:02d}-{day:02d}"


def _order_words(order: str) -> str:
    return "DD/MM/YYYY" if order == "dmy" else "MM/DD/YYYY"


def _check_day(year: int, month: int, day: int, value: str) -> None:
    try:
        date(year, month, day)
    except ValueError:
        raise RowRejected(f"{value!r} is not a calendar date") from None


def parse_flag(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise RowRejected(f"{value!r} is not yes/no, true/false, y/n or 1/0")


def split_list(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]


def row_fields(header: list[str], cells: list[str], mapping: Mapping[str, str], order: str,
               checks: Mapping[str, Check]) -> dict:
    """A record's mapped, non-blank cells as the customer's API fields (`consent` as an object of the channels
    given), each checked by `checks` (the API's checks of a customer's fields). Raises RowRejected with the
    reason."""
    if len(cells) != len(header):
        raise RowRejected(f"has {len(cells)} fields, the header has {len(header)}")
    by_column = dict(zip(header, cells))
    fields: dict = {}
    for column, field in mapping.items():
        raw = by_column[column].strip()
        if not raw:
            continue   # a blank cell never overwrites a value
        if len(raw) > MAX_CELL:
            raise RowRejected(f"{column}: longer than {MAX_CELL} characters")
        try:
            if field in DATE_FIELDS:
                value: object = parse_day(raw, order)
            elif field in ("is_vip", "consent.email", "consent.sms"):
                value = parse_flag(raw)
            elif field in ("tags", "interests"):
                value = split_list(raw)
            elif field == "points_balance":
                value = _integer(raw)
            else:
                value = raw
        except RowRejected as e:
            raise RowRejected(f"{column}: {e}") from None
        if field.startswith("consent."):
            fields.setdefault("consent", {})[field.split(".", 1)[1]] = value
            continue
        try:
            fields[field] = check_id(value, column) if field == "customer_id" else checks[field](value, column)
        except ValidationFailed as e:
            raise RowRejected(e.message if e.message.startswith(column) else f"{column}: {e.message}") from None
    return fields


def _integer(raw: str) -> int:
    try:
        number = float(raw.replace(" ", "").replace(",", "."))
    except ValueError:
        raise RowRejected(f"{raw!r} is not a number") from None
    if number != int(number):
        raise RowRejected(f"{raw!r} is not a whole number")
    return int(number)


def rejects_csv(rows: list[tuple[int, str]]) -> str:
    """The rejected rows' lines and reasons as CSV text (no header: the API puts one line above every chunk's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line, reason in rows:
        writer.writerow([line, reason])
    return out.getvalue()

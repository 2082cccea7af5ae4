r"""What a valid email address, phone number (E.164) and id look like: the API refuses anything else, and
the dispatcher checks again before it sends.

Each pattern ends with `\Z`, not `$`: `$` also matches before a final newline, which would let
"+61400000777\n" (with a line break at the end) through as a phone number. The local part of an email
address holds no whitespace, control character or lone surrogate."""
from __future__ import annotations

import re

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f\ud800-\udfff<>(),;:\"\[\]\\]{1,64}"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+\Z")
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}\Z")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")

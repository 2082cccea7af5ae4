"""What a valid email address, phone number (E.164) and id look like: the API refuses anything else, and
the dispatcher checks again before it sends."""
from __future__ import annotations

import re

EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")

"""Customer search (docs/behaviour.md, "Finding a customer"): the words a customer is found by, and what a query
asks for.

A customer is found by the start of their first name, last name, full name ("first last") or email, in any
letter case and without regard to accents ("zoe" finds "Zoë"), or by four or more digits anywhere in their
phone number. Each of these is a *search key* kept beside the customer (`CustomerSearch`), so that a query is
one range read of the keys that start with it:

- `t:<text>` for each name and the email, folded (`fold`);
- `p:<digits>` for each ending of the phone number's digits at least four digits long: digits found anywhere
  in the number are the start of one of its endings, so "contains" is a prefix read too.

Beside them, one *address key* per email address, `e:<address in lower case>` (`email_key`), not a search key
but an item of its own that lists the customers holding the address, so that an import finds the customers of
a chunk's addresses with batches of keyed reads.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TEXT, PHONE, EMAIL = "t:", "p:", "e:"
#: Fewest digits a phone search takes: fewer would match most of the customer base.
MIN_PHONE_DIGITS = 4
#: A query made only of these (and with enough digits) is a phone number, or part of one.
PHONE_LIKE = re.compile(r"[0-9+()\-. ]+")
_SPACES = re.compile(r"\s+")


#: Most characters of a folded name or email a key holds, and a query compares: a key stays well under
#: DynamoDB's 1,024 bytes whatever a name's characters decompose into.
MAX_KEY_CHARS = 100


def _bare(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The form names, emails and queries are compared in: accents stripped (NFKD, combining marks dropped),
    letter case folded, runs of spaces made one. Decomposed again after case folding, which can itself
    produce accents ("İ" folds to "i" and a dot above)."""
    return _SPACES.sub(" ", _bare(_bare(text).casefold())).strip()[:MAX_KEY_CHARS]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def search_keys(first_name: str | None, last_name: str | None, email: str | None,
                phone: str | None) -> frozenset[str]:
    """Every search key of a customer with these fields."""
    names = [fold(n) for n in (first_name, last_name) if n]
    texts = {*names, fold(" ".join(n for n in (first_name, last_name) if n))}
    if email:
        texts.add(fold(email))
    keys = {TEXT + t for t in texts if t}
    number = digits(phone or "")
    keys.update(PHONE + number[i:] for i in range(len(number) - MIN_PHONE_DIGITS + 1))
    return frozenset(keys)


def email_key(email: str | None) -> str | None:
    """The address key of an email address: the same address in any letter case has the same key (as the
    customers' email index has it)."""
    return EMAIL + email.lower() if email else None


@dataclass(frozen=True)
class Query:
    """What a search reads: the search keys that start with `prefix`."""

    prefix: str

    def first_found(self, keys: frozenset[str], customer_id: str) -> str | None:
        """Of a customer's search keys, the first (as stored, `stored_key`) that this query finds, if any: a
        customer found by several keys is answered at that one only."""
        return min((stored_key(k, customer_id) for k in keys if k.startswith(self.prefix)), default=None)


def stored_key(key: str, customer_id: str) -> str:
    """How a search key is stored: with its customer, so that two customers' equal keys are two items."""
    return f"{key}#{customer_id}"


def parse_query(text: str) -> Query | None:
    """The query a search box's text asks: a phone search when it is made of digits and phone punctuation
    with at least four digits, a name-or-email search otherwise. None when there is nothing to search for."""
    if PHONE_LIKE.fullmatch(text) and len(digits(text)) >= MIN_PHONE_DIGITS:
        return Query(PHONE + digits(text))
    folded = fold(text)
    return Query(TEXT + folded) if folded else None

"""Customer search at 100,000 customers: the items each search reads and its time, in the emulator.

    .venv/bin/python -m bench.search [--customers 100000] [--limit 20] [--json]

A synthetic store (written straight into the emulator's backend, as `bench.seed` does) of customers with first
and last names drawn from two lists (some accented), an email for nine in ten and a phone number for six in ten,
each with the search keys `Customer.save` would write beside it (`chalicelib.rules.search`). Each search is
answered as `GET /customers?q=` answers it (`chalicelib.services.customers.search_customers`), first page of
`--limit`: by a first-name prefix, a full-name prefix, an accent-free name, an email prefix, and phone digits
(4 and 7). For each: the customers the query matches in the whole store (counted here, over the seeded data),
the customers on the page (checked: each matches, and the page is full when enough match), the items DynamoDB
reads (`ScannedCount` of the key query, and the customers fetched with them), the calls, the wall time, and the
CPU time of the calling thread (`client_cpu_ms`: botocore, PynamoDB and the search's own work, without the
emulator, which answers from other threads).
Then the same searches through the whole base, as a look-up without the keys would read it, for comparison.
The emulator sorts a partition at every query, so its times grow with the store where DynamoDB's do not:
the items read are the figure that carries over.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time

TENANT = "bench-search"
FIRST = ["Maria", "Mario", "Marie", "Leo", "Léa", "Zoë", "Zoe", "Olivia", "Oliver", "Amelia", "Noah", "Ava",
         "Liam", "Mia", "Jack", "Isla", "Aroha", "Wiremu", "Chloé", "José", "Søren", "Ana", "Anaïs", "Ben",
         "Charlotte", "Daniel", "Ella", "Finn", "Grace", "Henry", "Ivy", "James", "Kate", "Lucas", "Maya",
         "Nina", "Oscar", "Priya", "Ruby", "Sam"]
LAST = ["Martin", "Martínez", "García", "Smith", "Jones", "Nguyen", "Müller", "Åberg", "Brown", "Wilson",
        "Taylor", "Thomas", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
        "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Moore", "Ngata", "Tane", "O'Brien", "Kelly",
        "Chen", "Wang", "Singh", "Patel", "Dubois", "Lefèvre", "Rossi", "Costa"]
#: (label, query text): what a salesperson types.
SEARCHES = [
    ("first-name prefix", "mar"),
    ("full-name prefix", "maria gar"),
    ("accent-free name", "zoe aber"),
    ("email prefix", "leo.martin"),
    ("phone, 4 digits", None),
    ("phone, 7 digits", None),
]


def people(customers: int, rng_seed: int = 13) -> list[dict]:
    rng = random.Random(rng_seed)
    found = []
    for n in range(customers):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{n}@mail.example".lower().replace("'", "") if rng.random() < 0.9 else None
        phone = f"+6421{rng.randrange(10**7):07d}" if rng.random() < 0.6 else None
        found.append({"customer_id": f"c{n:07d}", "first_name": first, "last_name": last, "email": email,
                      "phone": phone})
    return found


def seed(everyone: list[dict]) -> int:
    """Write the customers and their search keys; returns the number of keys."""
    from bench.seed import AT, put
    from chalicelib.adapters.models import Customer, CustomerSearch, derive_customer_keys
    from chalicelib.core.timeutil import to_iso

    keys = 0
    for person in everyone:
        item = Customer(TENANT, **person, created_at=to_iso(AT), last_activity_at=to_iso(AT))
        derive_customer_keys(item)
        tokens = [CustomerSearch.of(item, key) for key in item.search_keys()]
        keys += len(tokens)
        put(item, *tokens)
    return keys


def _matches(person: dict, text: str) -> bool:
    from chalicelib.rules import search

    query = search.parse_query(text)
    keys = search.search_keys(person["first_name"], person["last_name"], person["email"], person["phone"])
    return query.first_found(keys, person["customer_id"]) is not None


def measure(customers: int, limit: int) -> dict:
    from bench.emulator import metered
    from chalicelib.services.customers import search_customers

    everyone = people(customers)
    started = time.perf_counter()
    keys = seed(everyone)
    seeding = round(time.perf_counter() - started, 1)
    by_id = {p["customer_id"]: p for p in everyone}
    # The phone searches type the end of a seeded customer's number.
    number = next(p["phone"] for p in everyone if p["phone"])
    phone_text = {"phone, 4 digits": number[-4:], "phone, 7 digits": f"{number[-7:-4]} {number[-4:]}"}
    rows = []
    for label, text in SEARCHES:
        text = text or phone_text[label]
        matching = sum(_matches(p, text) for p in everyone)
        with metered() as meter:
            cpu = time.thread_time()
            page = search_customers(TENANT, text, limit=str(limit), cursor=None)
            cpu = time.thread_time() - cpu
        ids = [c["customer_id"] for c in page["customers"]]
        assert all(_matches(by_id[i], text) for i in ids), label
        assert len(ids) == min(limit, matching) and len(set(ids)) == len(ids), (label, len(ids), matching)
        rows.append({"search": label, "q": text, "matching": matching, "answered": len(ids),
                     "items_read": meter.items_read, "calls": meter.total_calls, "ms": round(meter.seconds * 1000),
                     "client_cpu_ms": round(cpu * 1000)})
    from chalicelib.adapters.models import Customer
    with metered() as meter:
        sum(1 for _ in Customer.query(TENANT, attributes_to_get=["customer_id", "first_name", "last_name",
                                                                  "email", "phone"]))
    return {"customers": customers, "search_keys": keys, "seeding_seconds": seeding, "limit": limit,
            "searches": rows, "whole_base": {"items_read": meter.items_read, "ms": round(meter.seconds * 1000)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    from bench import emulator

    server = emulator.start()
    try:
        result = measure(args.customers, args.limit)
    finally:
        server.stop()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['customers']} customers, {result['search_keys']} search keys, seeded in "
              f"{result['seeding_seconds']} s; first page of {result['limit']}")
        for row in result["searches"]:
            print(row)
        print("reading the whole base instead:", result["whole_base"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

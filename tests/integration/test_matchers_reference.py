"""A reference check: every matcher, reading DynamoDB through its index, gives exactly the answer of a
brute-force reading of docs/behaviour.md section 3 over all the records, written here independently of the project's
calendar code."""
from __future__ import annotations

import calendar
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.core import catalog
from chalicelib.core.store_settings import DEFAULTS
from chalicelib.core.values import AutomationView, Occasion, TenantView
from chalicelib.matchers import MATCHERS
from chalicelib.rules.auth import Principal
from chalicelib.services import customers as records

UTC = timezone.utc
ZONES = ["UTC", "Australia/Sydney", "America/New_York", "Europe/London"]
# Instants that stress the rules: leap days, month and year ends, seasonal days, daylight-saving days.
SPECIAL_DAYS = [date(2027, 2, 28), date(2028, 2, 28), date(2028, 2, 29), date(2026, 12, 29), date(2026, 12, 31),
                date(2027, 2, 7), date(2026, 12, 18), date(2027, 5, 2), date(2027, 2, 28), date(2028, 3, 19),
                date(2026, 4, 30), date(2026, 10, 4), date(2026, 4, 5), date(2026, 3, 8), date(2026, 11, 1),
                date(2029, 2, 28), date(2027, 4, 30), date(2026, 5, 31)]


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the rules, read literally -------------------------------------------------------------------

def local_day(text: str, tz: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(ZoneInfo(tz)).date()


def celebrated(stored: str, year: int) -> date:
    month, day = int(stored[-5:-3]), int(stored[-2:])
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return date(year, month, day)


def plus_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def easter(year: int) -> date:
    # The anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    return date(year, month, (h + l - 7 * m + 114) % 31 + 1)


def mothers(year: int, country: str) -> date:
    if country in ("GB", "IE"):
        return easter(year) - timedelta(days=21)
    sundays = [date(year, 5, d) for d in range(1, 15) if date(year, 5, d).weekday() == 6]
    return sundays[1]


def expected(type_: str, world: dict, tz: str, country: str, at: datetime, opts: dict) -> set[tuple[str, str]]:
    today = at.astimezone(ZoneInfo(tz)).date()
    people = {c["id"]: c for c in world["customers"] if not c["deleted"]}
    found: set[tuple[str, str]] = set()
    if type_ in ("birthday", "anniversary"):
        target = today + timedelta(days=opts["days_before"])
        for c in people.values():
            if c.get(type_) and celebrated(c[type_], target.year) == target:
                found.add((c["id"], f"{type_}:{target.year}"))
    elif type_ == "reengagement":
        for c in people.values():
            moments = [c["created_at"]] + [s["completed_at"] for s in world["sales"] if s["customer"] == c["id"]]
            for r in world["repairs"]:
                if r["customer"] == c["id"]:
                    moments += [r["created_at"]] + ([r["collected_at"]] if r.get("collected_at") else [])
            last = local_day(max(moments), tz)
            if plus_months(last, opts["months_inactive"]) == today:
                found.add((c["id"], f"lapse:{last.isoformat()}"))
    elif type_ == "repair_ready_reminder":
        for r in world["repairs"]:
            if r["status"] == "ready" and r["customer"] in people and \
                    local_day(r["ready_at"], tz) == today - timedelta(days=opts["days_after"]):
                found.add((r["customer"], f"repair:{r['id']}"))
    elif type_ == "post_purchase":
        yesterday = today - timedelta(days=1)
        for s in world["sales"]:
            if s["customer"] in people and local_day(s["completed_at"], tz) == yesterday:
                found.add((s["customer"], f"purchase:{yesterday.isoformat()}"))
    elif type_ in ("appointment_24h", "appointment_1h"):
        before, until = (timedelta(hours=24), timedelta(hours=2)) if type_ == "appointment_24h" else \
            (timedelta(hours=1), timedelta(0))
        for a in world["appointments"]:
            starts = datetime.fromisoformat(a["starts_at"].replace("Z", "+00:00"))
            if a["status"] == "booked" and a["customer"] in people and starts - before <= at < starts - until:
                found.add((a["customer"], f"{'appt24' if type_ == 'appointment_24h' else 'appt1'}:{a['id']}@{a['starts_at']}"))
    else:
        day = {"valentines": date(today.year, 2, 7), "christmas": date(today.year, 12, 18),
               "mothers_day": mothers(today.year, country) - timedelta(days=7)}[type_]
        if today == day:
            found = {(cid, f"{type_}:{today.year}") for cid in people}
    return found


# --- worlds ---------------------------------------------------------------------------------------

@st.composite
def scenarios(draw):
    tz = draw(st.sampled_from(ZONES))
    country = draw(st.sampled_from(["US", "AU", "GB", "IE"]))
    day = draw(st.one_of(st.sampled_from(SPECIAL_DAYS), st.sampled_from(SPECIAL_DAYS),
                         st.dates(date(2026, 1, 1), date(2030, 12, 31))))
    local = datetime.combine(day, datetime.min.time()) + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)),
                                                                   seconds=draw(st.integers(0, 59)))
    at = local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    opts = {"days_before": draw(st.sampled_from([0, 1, 3, 7])), "days_after": draw(st.sampled_from([3, 5, 7, 14])),
            "months_inactive": draw(st.sampled_from([3, 6, 12]))}
    ahead = opts["days_before"]
    offsets = st.one_of(st.sampled_from([ahead - 1, ahead, ahead, ahead + 1]), st.integers(-2, 9))

    def month_day():
        near = day + timedelta(days=draw(offsets))
        year = 1996 if f"{near:%m-%d}" == "02-29" else draw(st.integers(1950, 2005))
        return draw(st.sampled_from([f"{year}-{near:%m-%d}", f"--{near:%m-%d}",
                                     "2000-02-29", "--02-29", "1999-02-28", "1990-03-01"]))

    def around(months_back: int | None) -> str:
        """An instant about `months_back` calendar months before `at` (give or take a day), or within the
        last few days."""
        if not months_back:
            return iso(at - timedelta(days=draw(st.integers(0, 2)), hours=draw(st.integers(-30, 30)),
                                      minutes=draw(st.integers(0, 59))))
        back = plus_months(day, -months_back) + timedelta(days=draw(st.integers(-1, 1)))
        moment = datetime.combine(back, datetime.min.time()) + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
        return iso(moment.replace(tzinfo=ZoneInfo(tz)))

    customers = []
    for n in range(draw(st.integers(1, 8))):
        customers.append({
            "id": f"c{n}",
            "birthday": month_day() if draw(st.booleans()) else None,
            "anniversary": month_day() if draw(st.booleans()) else None,
            "created_at": around(draw(st.sampled_from([opts["months_inactive"], 3, 6, 12, 24]))),
            "deleted": draw(st.integers(0, 9)) == 0,
        })
    ids = st.sampled_from([c["id"] for c in customers])
    sales = [{"id": f"s{n}", "customer": draw(ids), "completed_at": around(draw(st.sampled_from([None, None, 3, 12])))}
             for n in range(draw(st.integers(0, 6)))]
    repairs = []
    for n in range(draw(st.integers(0, 5))):
        status = draw(st.sampled_from(["intake", "in_progress", "ready", "ready", "collected"]))
        waited = draw(st.sampled_from([opts["days_after"], opts["days_after"], 3, 4, 14]))
        ready_at = iso(at - timedelta(days=waited, hours=draw(st.integers(-20, 20))))
        repair = {"id": f"r{n}", "customer": draw(ids), "status": status, "created_at": around(draw(st.sampled_from([3, 6]))),
                  "ready_at": ready_at if status in ("ready", "collected") else None}
        repair["collected_at"] = around(None) if status == "collected" else None
        repairs.append(repair)
    edges = [timedelta(hours=h) for h in (0, 1, 2, 24)]
    appointments = [{"id": f"a{n}", "customer": draw(ids), "status": draw(st.sampled_from(["booked", "booked", "cancelled"])),
                     "starts_at": iso(at.replace(microsecond=0) + draw(st.one_of(
                         st.sampled_from(edges), st.builds(lambda e, s: e + timedelta(seconds=s), st.sampled_from(edges),
                                                           st.integers(-2, 2)),
                         st.builds(lambda m: timedelta(minutes=m), st.integers(-60, 30 * 60)))))}
                    for n in range(draw(st.integers(0, 5)))]
    world = {"customers": customers, "sales": sales, "repairs": repairs, "appointments": appointments}
    return tz, country, at, world, opts


def write(world: dict, tenant_id: str, at: datetime) -> None:
    owner = Principal(tenant_id=tenant_id, role="owner", subject="test")
    for c in world["customers"]:
        body = {"first_name": c["id"], "created_at": c["created_at"]}
        body.update({k: c[k] for k in ("birthday", "anniversary") if c[k]})
        records.put_customer(owner, c["id"], body, at)
    for s in world["sales"]:
        records.put_sale(owner, s["id"], {"customer_id": s["customer"], "completed_at": s["completed_at"]}, at)
    for r in world["repairs"]:
        records.put_repair(owner, r["id"], {k: v for k, v in {
            "customer_id": r["customer"], "status": r["status"], "created_at": r["created_at"],
            "ready_at": r["ready_at"], "collected_at": r["collected_at"]}.items() if v}, at)
    for a in world["appointments"]:
        records.put_appointment(owner, a["id"], {"customer_id": a["customer"], "starts_at": a["starts_at"],
                                                 "status": a["status"]}, at)
    for c in world["customers"]:
        if c["deleted"]:
            records.delete_customer(owner, c["id"], datetime(2026, 11, 1, tzinfo=timezone.utc))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_every_matcher_agrees_with_a_brute_force_reading_of_the_spec(scenario):
    tz, country, at, world, opts = scenario
    tenant_id = f"ref-{uuid.uuid4().hex[:10]}"
    write(world, tenant_id, at)
    tenant = TenantView(tenant_id, {**DEFAULTS, "timezone": tz, "country": country})
    repo = DynamoRepository()
    # Seasonal types are also asked on their own days of the year, at the same local time.
    local = at.astimezone(ZoneInfo(tz))
    year = local.year
    seasonal_days = [date(year, 2, 7), date(year, 12, 18), mothers(year, country) - timedelta(days=7)]
    seasonal_ats = [local.replace(month=d.month, day=d.day).astimezone(UTC) for d in seasonal_days]
    for type_, match in MATCHERS.items():
        spec = catalog.PER_EVENT[type_]
        automation = AutomationView(type_, {**spec.default_settings(),
                                            **{name: opts[name] for name in spec.settings if name in opts}})
        for when in [at] + (seasonal_ats if type_ in ("valentines", "mothers_day", "christmas") else []):
            today = when.astimezone(ZoneInfo(tz)).date()
            got = [(m.customer_id, m.occurrence_key) for m in match(tenant, automation, Occasion(when, today), repo)]
            want = expected(type_, world, tz, country, when, opts)
            event(f"{type_}: {'some' if want else 'none'} matched")
            assert len(got) == len(set(got)), type_
            assert set(got) == want, (type_, tz, when)

"""Which dates an evaluation processes (docs/behaviour.md section 2): due times, catch-up, no back-dating."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.schedule import coverage, dates_due, trigger_of

SYD = "Australia/Sydney"
UTC = timezone.utc


def _at(local: str, tz: str = SYD) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def due(at, **kw):
    kw.setdefault("first_evaluated_on", date(2026, 1, 1))
    kw.setdefault("processed_through", None)
    kw.setdefault("enabled_on", date(2026, 1, 1))
    return dates_due(at, SYD, 10, **kw)


def test_a_date_is_due_from_send_hour_local():
    assert due(_at("2026-06-10T09:59:59"), processed_through=date(2026, 6, 9)) == []
    assert due(_at("2026-06-10T10:00:00"), processed_through=date(2026, 6, 9)) == [date(2026, 6, 10)]


def test_a_processed_date_is_not_processed_again():
    assert due(_at("2026-06-10T15:00:00"), processed_through=date(2026, 6, 10)) == []


def test_two_missed_days_are_caught_up_in_order_and_no_older_ones():
    assert due(_at("2026-06-10T10:05:00"), processed_through=date(2026, 6, 1)) == [
        date(2026, 6, 8), date(2026, 6, 9), date(2026, 6, 10)]
    # Before send_hour, the missed days are still due but today is not yet.
    assert due(_at("2026-06-10T08:00:00"), processed_through=date(2026, 6, 7)) == [date(2026, 6, 8), date(2026, 6, 9)]


def test_no_date_before_the_first_evaluation_or_the_day_it_was_enabled():
    assert due(_at("2026-06-10T11:00:00"), first_evaluated_on=None) == [date(2026, 6, 10)]
    assert due(_at("2026-06-10T11:00:00"), first_evaluated_on=date(2026, 6, 9)) == [date(2026, 6, 9), date(2026, 6, 10)]
    assert due(_at("2026-06-10T11:00:00"), enabled_on=date(2026, 6, 10), processed_through=date(2026, 5, 1)) == [
        date(2026, 6, 10)]


def test_across_daylight_saving_no_day_is_skipped_or_repeated():
    # Evaluate every 15 minutes through Sydney's October and April changes, and New York's March and November
    # ones, carrying processed_through forward like the runner: every date is processed exactly once.
    for tz, first in ((SYD, date(2026, 10, 2)), (SYD, date(2026, 4, 3)), ("America/New_York", date(2026, 3, 6)),
                      ("America/New_York", date(2026, 10, 30))):
        for hour in (0, 2, 3, 10, 23):
            processed, seen = None, []
            at = datetime.combine(first, datetime.min.time(), UTC)
            while at < datetime.combine(first + timedelta(days=5), datetime.min.time(), UTC):
                got = dates_due(at, tz, hour, first_evaluated_on=first - timedelta(days=1),
                                processed_through=processed, enabled_on=None)
                seen.extend(got)
                processed = got[-1] if got else processed
                at += timedelta(minutes=15)
            assert seen == sorted(set(seen)), (tz, hour)
            assert all(b - a == timedelta(days=1) for a, b in zip(seen, seen[1:])), (tz, hour, seen)
            assert len(seen) >= 4


# --- coverage by trigger date --------------------------------------------------------------------------

def cover(type_, at, settings, **kw):
    kw.setdefault("first_evaluated_on", date(2026, 1, 1))
    kw.setdefault("processed_through", None)
    kw.setdefault("covered_through", None)
    kw.setdefault("enabled_on", date(2026, 1, 1))
    kw.setdefault("coverage_from", None)
    return coverage(type_, at, SYD, 10, settings, **kw)


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_trigger_dates_follow_each_types_setting():
    day = d("2026-06-10")
    assert trigger_of("birthday", day, {"days_before": 7}) == d("2026-06-17")
    assert trigger_of("repair_ready_reminder", day, {"days_after": 3}) == d("2026-06-07")
    assert trigger_of("post_purchase", day, {}) == d("2026-06-09")
    assert trigger_of("christmas", day, {}) == day
    assert trigger_of("reengagement", d("2026-06-10"), {"months_inactive": 3}) == d("2026-03-10")
    # Month ends: Feb 28 is the lapse date of Jan 28..31 (one month), and Mar 30 of none after Feb 28.
    assert trigger_of("reengagement", d("2026-02-28"), {"months_inactive": 1}) == d("2026-01-31")
    assert trigger_of("reengagement", d("2026-03-30"), {"months_inactive": 1}) == d("2026-02-28")


def test_raising_days_before_after_today_was_processed_covers_the_gap_once_at_the_next_evaluation():
    """The owner's case: today (Jun 10) was processed with 0 days before; at 11:00 they choose 7."""
    done = dict(processed_through=d("2026-06-10"), covered_through=d("2026-06-10"))
    [gap] = cover("birthday", _at("2026-06-10T11:15:00"), {"days_before": 7}, **done)
    assert gap.day == d("2026-06-10") and gap.triggers == gap.late == tuple(
        d(f"2026-06-{n}") for n in range(11, 18))
    assert gap.covered_through == d("2026-06-17")
    # Once it is recorded, the same instant covers nothing more, and tomorrow covers only its own date.
    after = dict(processed_through=d("2026-06-10"), covered_through=d("2026-06-17"))
    assert cover("birthday", _at("2026-06-10T11:30:00"), {"days_before": 7}, **after) == []
    [tomorrow] = cover("birthday", _at("2026-06-11T10:00:00"), {"days_before": 7}, **after)
    assert tomorrow.triggers == (d("2026-06-18"),) and tomorrow.late == ()


def test_lowering_a_lead_covers_nothing_twice():
    after = dict(processed_through=d("2026-06-10"), covered_through=d("2026-06-17"))
    covers = [c for n in range(11, 19) for c in cover("birthday", _at(f"2026-06-{n}T10:00:00"), {"days_before": 0},
                                                      **{**after, "processed_through": d(f"2026-06-{n - 1}")})]
    assert [c.triggers for c in covers] == [()] * 7 + [(d("2026-06-18"),)]


def test_lowering_months_inactive_reaches_those_who_lapsed_in_between():
    done = dict(processed_through=d("2026-06-10"), covered_through=d("2025-12-10"))
    [gap, today] = cover("reengagement", _at("2026-06-11T10:00:00"), {"months_inactive": 3}, **done)
    assert gap.day == d("2026-06-10") and gap.triggers[0] == d("2025-12-11") and gap.triggers[-1] == d("2026-03-10")
    assert today.triggers == (d("2026-03-11"),) and today.late == ()


def test_no_back_dating_from_the_day_it_was_enabled_and_off_and_on_again_re_covers_nothing():
    # Enabled today with 7 days before: coverage starts at today's own trigger date.
    [first] = cover("birthday", _at("2026-06-10T10:00:00"), {"days_before": 7}, first_evaluated_on=None,
                    enabled_on=d("2026-06-10"), coverage_from=d("2026-06-17"))
    assert first.triggers == (d("2026-06-17"),)
    # Switched off and on again the same day, after it was processed: nothing is due or covered again.
    again = dict(processed_through=d("2026-06-10"), covered_through=d("2026-06-17"), enabled_on=d("2026-06-10"),
                 coverage_from=d("2026-06-17"))
    assert cover("birthday", _at("2026-06-10T16:00:00"), {"days_before": 7}, **again) == []
    # Off for a week: on again on the 20th covers from the 20th's trigger date, not the week it was off.
    [back] = cover("birthday", _at("2026-06-20T10:00:00"), {"days_before": 7}, processed_through=d("2026-06-12"),
                   covered_through=d("2026-06-19"), enabled_on=d("2026-06-20"), coverage_from=d("2026-06-27"))
    assert back.triggers == (d("2026-06-27"),)


def test_an_outage_skips_the_trigger_dates_of_dates_beyond_the_catch_up_window():
    covers = cover("birthday", _at("2026-06-20T10:00:00"), {"days_before": 3}, processed_through=d("2026-06-10"),
                   covered_through=d("2026-06-13"))
    assert [c.day for c in covers] == [d("2026-06-18"), d("2026-06-19"), d("2026-06-20")]
    assert [c.triggers for c in covers] == [(d("2026-06-21"),), (d("2026-06-22"),), (d("2026-06-23"),)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0, 1, 3, 7])), min_size=1, max_size=40))
def test_any_sequence_of_evaluations_and_lead_changes_covers_each_trigger_date_at_most_once_and_leaves_no_gap(steps):
    """Evaluations every so many days with days_before changed in between: trigger dates covered are never
    covered twice, and from the first on none is left out (no outage: at most two days apart)."""
    state = dict(first_evaluated_on=d("2026-01-01"), processed_through=None, covered_through=None,
                 enabled_on=d("2026-01-01"), coverage_from=d("2026-01-01"))
    day, seen = d("2026-01-01"), []
    for gap_days, lead in steps:
        day += timedelta(days=min(gap_days, 2))
        for c in coverage("birthday", _at(f"{day.isoformat()}T23:00:00"), SYD, 10, {"days_before": lead}, **state):
            seen += c.triggers
            state.update(processed_through=c.day, covered_through=c.covered_through)
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen) and all(b - a == timedelta(days=1) for a, b in zip(seen, seen[1:]))

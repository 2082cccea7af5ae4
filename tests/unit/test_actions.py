"""The action-taken rules of docs/behaviour.md section 4, pure: events of a change, the choice among automations."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules.actions import (
    ADDED,
    AUDIENCE,
    IMPORT,
    NO_AUTOMATION,
    REWARD,
    ActionView,
    CustomerState,
    added_events,
    audience_matches,
    decide,
)


def automation(automation_id: str, type_: str = "birthday_add", *, priority: int = 0, created_at: str = "2026-01-01",
               enabled: bool = True, audience=None, threshold=None) -> ActionView:
    return ActionView(automation_id=automation_id, type=type_, name=automation_id, created_at=created_at,
                      enabled=enabled, priority=priority, audience=audience or {}, points_threshold=threshold)


def fired(decisions) -> list[str]:
    return [d.automation.automation_id for d in decisions if d.fires]


def test_a_field_going_from_empty_to_set_is_its_event_and_nothing_else_is():
    old = CustomerState(email="a@b.example", interests=("pearls",))
    new = CustomerState(email="c@d.example", interests=("gold",), birthday="--05-01", app_installed_at="2026-01-01T00:00:00Z")
    assert added_events(old, new) == ["birthday_add", "app_download"]
    assert added_events(new, old) == []
    assert added_events(CustomerState(), CustomerState(interests=())) == []


def test_a_new_customer_is_a_change_from_an_empty_image():
    new = CustomerState(email="a@b.example", points=500)
    decisions = decide(None, new, [automation("w", "email_add"), automation("r", REWARD, threshold=500)])
    assert fired(decisions) == ["w", "r"]


def test_an_import_fires_nothing_and_says_so():
    new = CustomerState(email="a@b.example", birthday="--01-01", points=900, import_write=True)
    decisions = decide(None, new, [automation("w", "email_add"), automation("b"), automation("r", REWARD, threshold=1)])
    assert fired(decisions) == [] and {d.reason for d in decisions} == {IMPORT}
    assert len(decisions) == 3


def test_the_highest_priority_wins_then_the_earliest_created():
    new = CustomerState(birthday="--01-01")
    candidates = [automation("late", created_at="2026-02-01", priority=3), automation("early", created_at="2026-01-01",
                                                                                       priority=3),
                  automation("low", priority=1), automation("off", priority=9, enabled=False)]
    assert fired(decide(None, new, candidates)) == ["early"]


def test_no_enabled_automation_and_no_audience_match_are_told_apart():
    new = CustomerState(birthday="--01-01", tags=("regular",))
    assert decide(None, new, [automation("off", enabled=False)])[0].reason == NO_AUTOMATION
    assert decide(None, new, [automation("vip", audience={"tags_any": ["vip"]})])[0].reason == AUDIENCE


def test_audiences_need_every_part_they_give():
    state = CustomerState(tags=("vip",), interests=("pearls",), points=100)
    assert audience_matches({}, state) and audience_matches(None, state)
    assert audience_matches({"tags_any": ["vip", "x"], "interests_any": ["pearls"], "min_points": 100}, state)
    assert not audience_matches({"tags_any": ["vip"], "min_points": 101}, state)
    assert not audience_matches({"interests_any": ["watches"]}, state)
    assert audience_matches({"min_points": 0}, CustomerState())


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30),
       st.integers(min_value=1, max_value=1000))
def test_a_reward_fires_once_per_upward_crossing_and_only_after_falling_below(points, threshold):
    reward = automation("r", REWARD, threshold=threshold)
    states = [CustomerState(points=p) for p in points]
    firings = [i for i, (old, new) in enumerate(zip([None] + states, states))
               if fired(decide(old, new, [reward]))]
    # Between two firings the points were below the threshold at least once.
    for a, b in zip(firings, firings[1:]):
        assert any(p < threshold for p in points[a:b])
    # Every firing is a crossing: below (or a new customer) before, at or above after.
    for i in firings:
        assert points[i] >= threshold and (i == 0 or points[i - 1] < threshold)
    assert len(firings) == sum(1 for i, p in enumerate(points) if p >= threshold and (i == 0 or points[i - 1] < threshold))


names = st.sampled_from(["a", "b", "c", "d"])
views = st.builds(lambda i, t, p, c, e, tags: automation(f"{t}-{i}", t, priority=p, created_at=f"2026-01-0{c}",
                                                          enabled=e, audience={"tags_any": tags} if tags else {}),
                  st.integers(0, 99), st.sampled_from(list(ADDED)), st.integers(-2, 2), st.integers(1, 9),
                  st.booleans(), st.lists(names, max_size=2))


@given(st.lists(views, max_size=12, unique_by=lambda a: a.automation_id), st.lists(names, max_size=3))
def test_one_added_event_fires_at_most_one_automation_the_best_that_matches(automations, tags):
    new = CustomerState(birthday="--01-01", email="a@b.example", interests=("x",), app_installed_at="t",
                        tags=tuple(tags))
    for decision in decide(None, new, automations):
        eligible = [a for a in automations if a.type == decision.event and a.enabled
                    and audience_matches(a.audience, new)]
        if not eligible:
            assert not decision.fires
            continue
        top = max(a.priority for a in eligible)
        assert decision.fires and decision.automation in eligible and decision.automation.priority == top
        assert decision.automation.created_at == min(a.created_at for a in eligible if a.priority == top)

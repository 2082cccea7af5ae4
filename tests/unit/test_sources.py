"""The registry of send sources: each source is one module that says what the dispatcher needs of it."""
from __future__ import annotations

import importlib

import pytest

from chalicelib.core import catalog
from chalicelib.core.values import AutomationView
from chalicelib.sending.messages import MalformedMessage, Send
from chalicelib.sending.sources import SOURCES, source_of

PROTOCOL = ("category", "batch_keys", "configurations", "template_id", "variables")


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_registered_source_names_itself_and_says_everything_the_dispatcher_asks(name):
    module = importlib.import_module(SOURCES[name])
    assert module.NAME == name
    for function in PROTOCOL:
        assert callable(getattr(module, function)), f"{name} lacks {function}"
    assert isinstance(module.DISABLED_REASON, str)


def test_a_send_of_an_unknown_source_is_malformed():
    with pytest.raises(MalformedMessage):
        source_of(Send("t1", "c1", "birthday", "birthday", "birthday:2026", "email", source="newsletter"))


def test_per_event_categories_come_from_the_catalog_and_action_taken_ones_are_marketing():
    per_event = source_of(Send("t1", "c1", "repair_ready_reminder", "repair_ready_reminder", "k", "email"))
    action = source_of(Send("t1", "c1", "email_add", "act_1", "k", "email", source="action_automation"))
    assert per_event.category("repair_ready_reminder") == catalog.TRANSACTIONAL
    assert per_event.category("birthday") == catalog.MARKETING
    assert action.category("email_add") == catalog.MARKETING


def test_a_source_gives_its_own_types_variables_and_the_template_in_effect():
    store = {"special_offer": "15% off", "review_url": None, "store_website": "https://opal.example"}
    birthday = Send("t1", "c1", "birthday", "birthday", "birthday:2026", "email")
    per_event = source_of(birthday)
    with_code = AutomationView(type="birthday", settings={"include_discount_code": True})
    assert per_event.variables(birthday, with_code, store)["discount_code"].startswith("BDAY-")
    assert per_event.variables(birthday, AutomationView(type="birthday", settings={}), store) == {}
    review = Send("t1", "c1", "post_purchase", "post_purchase", "k", "email")
    asked = AutomationView(type="post_purchase", settings={"request_review": True})
    assert per_event.variables(review, asked, store) == {"review_url": "https://opal.example"}
    assert per_event.template_id(AutomationView(type="birthday", settings={}), "birthday") == "system:birthday"
    assert per_event.template_id(AutomationView(type="birthday", settings={}, template_id="tpl_1"), "birthday") == "tpl_1"

    added = Send("t1", "c1", "email_add", "act_1", "k", "email", source="action_automation")
    action = source_of(added)
    offer = AutomationView(type="email_add", settings={"offer_text": "A gift"}, name="Welcome")
    assert action.variables(added, offer, store) == {"offer": "A gift"}


def test_a_campaign_is_marketing_names_itself_in_its_template_and_a_cancelled_one_skips_as_campaign_cancelled():
    send = Send("t1", "c1", catalog.CAMPAIGN, "cmp_1", "campaign:cmp_1", "email", source="campaign")
    campaign = source_of(send)
    assert campaign.category(catalog.CAMPAIGN) == catalog.MARKETING
    view = AutomationView(type=catalog.CAMPAIGN, settings={}, name="Spring preview")
    assert campaign.variables(send, view, {}) == {"campaign": "Spring preview"}
    assert campaign.template_id(view, catalog.CAMPAIGN) == "system:campaign"
    assert campaign.DISABLED_REASON == "campaign_cancelled"
    assert source_of(Send("t1", "c1", "birthday", "birthday", "k", "email")).DISABLED_REASON == "automation_disabled"

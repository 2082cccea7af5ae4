"""The Chalice application: it registers the API's blueprints and the runner's event handlers, and nothing
else. Each event handler's Lambda function imports only its own module (`chalicelib.events.<name>`), and the
authorizer's only `chalicelib.api.authorizer`; the API function imports this file."""
from __future__ import annotations

from chalice import Chalice

from chalicelib.api import (
    action_automations,
    admin,
    authorizer,
    automations,
    campaigns,
    customers,
    imports,
    messages,
    reminders,
    segments,
    settings,
    store_records,
    templates,
    unsubscribe,
)
from chalicelib.api.context import uniform_errors
from chalicelib.events import customer_changes, dispatch, engagement, evaluate, feedback, schedules

app = Chalice(app_name="automations")
app.register_middleware(uniform_errors, "http")

for blueprint in (authorizer, admin, settings, automations, action_automations, templates, campaigns, customers,
                  imports, messages, segments, store_records, unsubscribe, reminders, schedules, evaluate, dispatch,
                  customer_changes, feedback, engagement):
    app.register_blueprint(blueprint.bp)

"""The Chalice application: routes, the authorizer and the runner's event handlers. Only wiring lives here.

The runner's handlers import their modules when first called: every Lambda of the app imports this
file, and a route's cold start should not pay for the dispatcher, or the dispatcher's for the routes.
"""
from __future__ import annotations

from datetime import datetime

from chalice import AuthResponse, Chalice, Rate, Response

from chalicelib.adapters import resources
from chalicelib.adapters.repository import DynamoRepository
from chalicelib.api.context import (
    TokenRejected,
    api,
    body,
    caller,
    query_param,
    uniform_errors,
    utcnow,
)
from chalicelib.core import catalog
from chalicelib.core.errors import Unauthorized
from chalicelib.rules.auth import verify_token
from chalicelib.services import (
    action_automations,
    admin_site,
    automations,
    settings,
    testrun,
)
from chalicelib.services import customers as records
from chalicelib.services import templates as template_store

app = Chalice(app_name="automations")
app.register_middleware(uniform_errors, "http")


@app.authorizer()
def jwt_auth(auth_request):
    """Verify the bearer token; the tenant and role travel to the routes in the authorizer context."""
    try:
        principal = verify_token(auth_request.token or "")
    except Unauthorized:
        raise TokenRejected() from None
    return AuthResponse(routes=["*"], principal_id=principal.subject,
                        context={"tenant_id": principal.tenant_id, "role": principal.role})


def _route(path: str, methods: list[str]):
    def register(view):
        return app.route(path, methods=methods, authorizer=jwt_auth)(api(view))
    return register


def _tz(tenant_id: str) -> str:
    return settings.load(tenant_id)["timezone"]


# --- the admin page: static, no login; its data comes from the routes below with the user's token ------

@app.route("/admin", methods=["GET"])
def admin_page():
    return Response(body=admin_site.page(), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", **admin_site.security_headers()})


@app.route("/admin/{name}", methods=["GET"])
def admin_file(name):
    if name == admin_site.CONFIG:
        return Response(body=admin_site.public_config(), status_code=200,
                        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    found = admin_site.asset(name)
    if found is None:
        return Response(body={"error": {"code": "not_found", "message": "no such file"}}, status_code=404)
    text, content_type = found
    return Response(body=text, status_code=200, headers={"Content-Type": content_type, **admin_site.security_headers()})


@_route("/me", ["GET"])
def who_am_i():
    return admin_site.me(caller(app.current_request, utcnow()))


# --- settings ------------------------------------------------------------------------------------

@_route("/settings", ["GET"])
def get_settings():
    return settings.view(caller(app.current_request, utcnow()).tenant_id)


@_route("/settings", ["PATCH"])
def patch_settings():
    now = utcnow()
    return settings.patch(caller(app.current_request, now), body(app.current_request), now)


# --- per-event automations ----------------------------------------------------------------------

@_route("/automations", ["GET"])
def list_automations():
    now = utcnow()
    tenant_id = caller(app.current_request, now).tenant_id
    return {"automations": automations.list_automations(tenant_id, now, _tz(tenant_id))}


@_route("/automations/{type}", ["GET"])
def get_automation(type):  # noqa: A002 - the route's own name for it
    now = utcnow()
    tenant_id = caller(app.current_request, now).tenant_id
    return automations.get(tenant_id, type, now, _tz(tenant_id))


@_route("/automations/{type}", ["PATCH"])
def patch_automation(type):  # noqa: A002
    now = utcnow()
    principal = caller(app.current_request, now)
    return automations.patch(principal, type, body(app.current_request), now, _tz(principal.tenant_id))


@_route("/automations/{type}/test-run", ["POST"])
def test_run_automation(type):  # noqa: A002
    now = utcnow()
    tenant_id = caller(app.current_request, now).tenant_id
    return testrun.test_run(tenant_id, type, body(app.current_request, required=False), now, DynamoRepository())


# --- action-taken automations ------------------------------------------------------------------

@_route("/action-automations", ["GET"])
def list_action_automations():
    now = utcnow()
    return {"action_automations": action_automations.list_automations(caller(app.current_request, now).tenant_id, now)}


@_route("/action-automations", ["POST"])
def create_action_automation():
    now = utcnow()
    record = action_automations.create(caller(app.current_request, now), body(app.current_request), now)
    return Response(body=record, status_code=201)


@_route("/action-automations/test-run", ["POST"])
def test_run_action_automations():
    now = utcnow()
    return action_automations.test_run(caller(app.current_request, now).tenant_id, body(app.current_request), now)


@_route("/action-automations/{automation_id}", ["GET"])
def get_action_automation(automation_id):
    now = utcnow()
    return action_automations.get(caller(app.current_request, now).tenant_id, automation_id, now)


@_route("/action-automations/{automation_id}", ["PATCH"])
def patch_action_automation(automation_id):
    now = utcnow()
    return action_automations.patch(caller(app.current_request, now), automation_id, body(app.current_request), now)


@_route("/action-automations/{automation_id}", ["DELETE"])
def delete_action_automation(automation_id):
    action_automations.delete(caller(app.current_request, utcnow()), automation_id)
    return Response(body="", status_code=204)


# --- templates ------------------------------------------------------------------------------------

@_route("/templates", ["GET"])
def list_templates():
    tenant_id = caller(app.current_request, utcnow()).tenant_id
    return {"templates": template_store.list_templates(tenant_id, query_param(app.current_request, "type"))}


@_route("/templates", ["POST"])
def create_template():
    now = utcnow()
    record = template_store.create(caller(app.current_request, now), body(app.current_request), now)
    return Response(body=record, status_code=201)


@_route("/templates/{template_id}", ["GET"])
def get_template(template_id):
    return template_store.get(caller(app.current_request, utcnow()).tenant_id, template_id)


@_route("/templates/{template_id}", ["PATCH"])
def patch_template(template_id):
    now = utcnow()
    return template_store.patch(caller(app.current_request, now), template_id, body(app.current_request), now)


@_route("/templates/{template_id}", ["DELETE"])
def delete_template(template_id):
    template_store.delete(caller(app.current_request, utcnow()), template_id)
    return Response(body="", status_code=204)


@_route("/templates/{template_id}/duplicate", ["POST"])
def duplicate_template(template_id):
    now = utcnow()
    principal = caller(app.current_request, now)
    record = template_store.duplicate(principal, template_id, body(app.current_request, required=False), now)
    return Response(body=record, status_code=201)


@_route("/templates/{template_id}/preview", ["POST"])
def preview_template(template_id):
    tenant_id = caller(app.current_request, utcnow()).tenant_id
    return template_store.preview(tenant_id, template_id, body(app.current_request, required=False))


# --- customers and their records -------------------------------------------------------------------

@_route("/customers", ["GET"])
def find_customers():
    request = app.current_request
    return records.find_customers(caller(request, utcnow()).tenant_id, email=query_param(request, "email"),
                                  limit=query_param(request, "limit"), cursor=query_param(request, "cursor"))


@_route("/customers/{customer_id}", ["PUT"])
def put_customer(customer_id):
    now = utcnow()
    return records.put_customer(caller(app.current_request, now), customer_id, body(app.current_request), now)


@_route("/customers/{customer_id}", ["PATCH"])
def patch_customer(customer_id):
    now = utcnow()
    return records.patch_customer(caller(app.current_request, now), customer_id, body(app.current_request), now)


@_route("/customers/{customer_id}", ["GET"])
def get_customer(customer_id):
    return records.get_customer(caller(app.current_request, utcnow()).tenant_id, customer_id)


@_route("/customers/{customer_id}", ["DELETE"])
def delete_customer(customer_id):
    records.delete_customer(caller(app.current_request, utcnow()), customer_id)
    return Response(body="", status_code=204)


@_route("/customers/{customer_id}/communications", ["GET"])
def customer_communications(customer_id):
    request = app.current_request
    return records.communications(caller(request, utcnow()).tenant_id, customer_id,
                                  limit=query_param(request, "limit"), cursor=query_param(request, "cursor"))


@_route("/sales/{sale_id}", ["PUT"])
def put_sale(sale_id):
    now = utcnow()
    return records.put_sale(caller(app.current_request, now), sale_id, body(app.current_request), now)


@_route("/sales/{sale_id}", ["GET"])
def get_sale(sale_id):
    return records.get_sale(caller(app.current_request, utcnow()).tenant_id, sale_id)


@_route("/repairs/{repair_id}", ["PUT"])
def put_repair(repair_id):
    now = utcnow()
    return records.put_repair(caller(app.current_request, now), repair_id, body(app.current_request), now)


@_route("/repairs/{repair_id}", ["PATCH"])
def patch_repair(repair_id):
    now = utcnow()
    return records.patch_repair(caller(app.current_request, now), repair_id, body(app.current_request), now)


@_route("/repairs/{repair_id}", ["GET"])
def get_repair(repair_id):
    return records.get_repair(caller(app.current_request, utcnow()).tenant_id, repair_id)


@_route("/appointments/{appointment_id}", ["PUT"])
def put_appointment(appointment_id):
    now = utcnow()
    return records.put_appointment(caller(app.current_request, now), appointment_id, body(app.current_request), now)


@_route("/appointments/{appointment_id}", ["PATCH"])
def patch_appointment(appointment_id):
    now = utcnow()
    return records.patch_appointment(caller(app.current_request, now), appointment_id,
                                     body(app.current_request), now)


@_route("/appointments/{appointment_id}", ["GET"])
def get_appointment(appointment_id):
    return records.get_appointment(caller(app.current_request, utcnow()).tenant_id, appointment_id)


# --- unsubscribe: no login, the signed token is the authority ------------------------------------

UNSUBSCRIBE_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]
HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@app.route("/unsubscribe/{token}", methods=["GET"], content_types=UNSUBSCRIBE_TYPES)
def unsubscribe_page(token):
    from chalicelib.sending import unsubscribe

    status, page = unsubscribe.confirmation_page(token)
    return Response(body=page, status_code=status, headers=HTML)


@app.route("/unsubscribe/{token}", methods=["POST"], content_types=UNSUBSCRIBE_TYPES)
def unsubscribe_now(token):
    """The page's button, and RFC 8058 one-click (`List-Unsubscribe=One-Click`) from mail clients."""
    from chalicelib.sending import unsubscribe

    status, page = unsubscribe.withdraw(token, utcnow())
    return Response(body=page, status_code=status, headers=HTML)


# --- the runner ---------------------------------------------------------------------------------

def _scheduled_instant(event) -> datetime:
    """The instant the schedule fired for (a late invocation still evaluates its own instant)."""
    from chalicelib.core.timeutil import parse_instant

    try:
        return parse_instant(event.time.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return utcnow()


def _planner(type_: str):
    def plan(event):
        from chalicelib.events import wiring as handlers

        return {"jobs": handlers.plan(type_, _scheduled_instant(event))}
    plan.__name__ = f"plan_{type_}"
    return plan


# One schedule per type: each plans that type's evaluations (spec section 2: every 15 minutes, which
# daily types need too, as each tenant's send hour falls in its own time zone).
for _spec in catalog.PER_EVENT_TYPES:
    app.schedule(Rate(15, unit=Rate.MINUTES), name=f"plan_{_spec.type}",
                 description=f"Plan the {_spec.name} evaluations")(_planner(_spec.type))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="release_deferred")
def release_deferred(event):
    from chalicelib.events import wiring as handlers

    return {"released": handlers.release_deferred(_scheduled_instant(event))}


@app.on_sqs_message(queue=resources.evaluation_queue_name(), batch_size=1, name=resources.EVALUATE_FUNCTION)
def evaluate(event):
    from chalicelib.events import wiring as handlers

    return handlers.evaluate_records(event.to_dict()["Records"])[0].response()


@app.on_sqs_message(queue=resources.send_queue_name(), batch_size=10, name=resources.DISPATCH_FUNCTION)
def dispatch(event):
    from chalicelib.events import wiring as handlers

    return handlers.dispatch_records(event.to_dict()["Records"]).response()


@app.on_dynamodb_record(stream_arn=resources.customers_stream_arn(), batch_size=resources.STREAM_BATCH_SIZE,
                        starting_position="TRIM_HORIZON", name=resources.CUSTOMER_CHANGES_FUNCTION)
def customer_changes(event):
    """Action-taken automations (spec section 4). From the stream's oldest record on first deploy, so no
    change made before the consumer existed is missed."""
    from chalicelib.events import wiring as handlers

    return handlers.customer_changes(event.to_dict()["Records"]).response()


@app.on_sns_message(topic=resources.feedback_topic_name(), name="ses_feedback")
def ses_feedback(event):
    from chalicelib.events import wiring as handlers

    handlers.feedback_message(event.message)

"""Customers and their communications history."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, no_content, routes
from chalicelib.services import audit, customers, notes

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/customers", ["GET"])
def find_customers(call: Call):
    return customers.find_customers(call.tenant_id, email=call.param("email"), limit=call.param("limit"),
                                    cursor=call.param("cursor"), q=call.param("q"))


@route("/customers/{customer_id}", ["PUT"])
def put_customer(call: Call, customer_id):
    return customers.put_customer(call.principal, customer_id, call.body(), call.now)


@route("/customers/{customer_id}", ["PATCH"])
def patch_customer(call: Call, customer_id):
    return customers.patch_customer(call.principal, customer_id, call.body(), call.now)


@route("/customers/{customer_id}", ["GET"])
def get_customer(call: Call, customer_id):
    return customers.get_customer(call.tenant_id, customer_id)


@route("/customers/{customer_id}", ["DELETE"])
def delete_customer(call: Call, customer_id):
    customers.delete_customer(call.principal, customer_id, call.now)
    return no_content()


@route("/customers/{customer_id}/audit", ["GET"])
def customer_audit(call: Call, customer_id):
    return audit.entries(call.principal, customer_id, limit=call.param("limit"), cursor=call.param("cursor"))


@route("/customers/{customer_id}/communications", ["GET"])
def customer_communications(call: Call, customer_id):
    return customers.communications(call.tenant_id, customer_id, limit=call.param("limit"),
                                    cursor=call.param("cursor"))


# --- notes (docs/behaviour.md section 7, "Customer notes") ----------------------------------------------

@route("/customers/{customer_id}/notes", ["GET"])
def list_notes(call: Call, customer_id):
    return notes.list_notes(call.tenant_id, customer_id, limit=call.param("limit"), cursor=call.param("cursor"))


@route("/customers/{customer_id}/notes", ["POST"])
def add_note(call: Call, customer_id):
    return created(notes.add_note(call.principal, customer_id, call.body(), call.now))


@route("/customers/{customer_id}/notes/{note_id}", ["PATCH"])
def edit_note(call: Call, customer_id, note_id):
    return notes.edit_note(call.principal, customer_id, note_id, call.body(), call.now)


@route("/customers/{customer_id}/notes/{note_id}", ["DELETE"])
def delete_note(call: Call, customer_id, note_id):
    notes.delete_note(call.principal, customer_id, note_id)
    return no_content()

"""What the store records about its customers: sales, repairs and appointments."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, routes
from chalicelib.services import customers

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/sales/{sale_id}", ["PUT"])
def put_sale(call: Call, sale_id):
    return customers.put_sale(call.principal, sale_id, call.body(), call.now)


@route("/sales/{sale_id}", ["GET"])
def get_sale(call: Call, sale_id):
    return customers.get_sale(call.tenant_id, sale_id)


@route("/repairs/{repair_id}", ["PUT"])
def put_repair(call: Call, repair_id):
    return customers.put_repair(call.principal, repair_id, call.body(), call.now)


@route("/repairs/{repair_id}", ["PATCH"])
def patch_repair(call: Call, repair_id):
    return customers.patch_repair(call.principal, repair_id, call.body(), call.now)


@route("/repairs/{repair_id}", ["GET"])
def get_repair(call: Call, repair_id):
    return customers.get_repair(call.tenant_id, repair_id)


@route("/appointments/{appointment_id}", ["PUT"])
def put_appointment(call: Call, appointment_id):
    return customers.put_appointment(call.principal, appointment_id, call.body(), call.now)


@route("/appointments/{appointment_id}", ["PATCH"])
def patch_appointment(call: Call, appointment_id):
    return customers.patch_appointment(call.principal, appointment_id, call.body(), call.now)


@route("/appointments/{appointment_id}", ["GET"])
def get_appointment(call: Call, appointment_id):
    return customers.get_appointment(call.tenant_id, appointment_id)

"""Customer imports: create (the upload address), preview, start, progress and the rejected rows."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.adapters import clients, resources
from chalicelib.adapters.files import S3Files
from chalicelib.adapters.queues import SqsQueue
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, routes
from chalicelib.core import config
from chalicelib.services import imports

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


def _files() -> S3Files:
    return S3Files(clients.client("s3"), config.imports_bucket())


def _queue() -> SqsQueue:
    # Not cached here: `clients` caches the client and the URL, and forgets both when the stack changes.
    return SqsQueue(clients.client("sqs"), clients.queue_url(resources.evaluation_queue_name()))


@route("/imports", ["POST"])
def create_import(call: Call):
    return created(imports.create(call.principal, call.now, _files()))


@route("/imports/{import_id}", ["GET"])
def get_import(call: Call, import_id):
    return imports.get(call.tenant_id, import_id)


@route("/imports/{import_id}/preview", ["GET"])
def preview_import(call: Call, import_id):
    return imports.preview(call.tenant_id, import_id, _files())


@route("/imports/{import_id}/start", ["POST"])
def start_import(call: Call, import_id):
    return imports.start(call.principal, import_id, call.body(), call.now, _files(), _queue())


@route("/imports/{import_id}/rejects", ["GET"])
def import_rejects(call: Call, import_id):
    return Response(body=imports.rejects(call.tenant_id, import_id, _files()), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="rejects-{import_id}.csv"'})

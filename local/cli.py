"""Command line of the local stack: `serve`, `token`, `tick`, `outbox`, `engage` and `import` (docs/behaviour.md
section 9)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

from local import stack as localstack

DEFAULT_API_PORT = 8000
DEFAULT_AWS_PORT = 4566


def _serve(args: argparse.Namespace) -> int:
    host = "127.0.0.1"
    if not localstack.port_free(host, args.port):
        print(f"error: port {args.port} is in use; choose another with --port", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        emulator = localstack.start_emulator(host, args.aws_port)
    except localstack.PortInUse as e:
        print(f"error: {e}; choose another with --aws-port", file=sys.stderr)
        return 2
    secret = localstack.local_secret()
    api = f"http://{host}:{args.port}"
    localstack.configure_environment(emulator.endpoint, secret, api)

    # Imported only now: models and the app read their configuration from the environment.
    from app import app
    from chalicelib.core.clock import utcnow
    from chalicelib.rules.auth import issue_local_token
    from local import demo
    from local.api import OUTBOX_PATH, make_server
    from local.runner import stream_checkpoint

    localstack.create_resources([demo.SENDER_DOMAIN])
    stream_checkpoint().reset()  # a new emulator: its stream starts afresh
    seeded = demo.seed(utcnow()) if not args.no_seed else None
    server = make_server(app, host, args.port)
    localstack.write_stack_file(emulator.endpoint, api, manual=args.manual)
    token_cmd = f"{sys.executable} -m local.cli token --tenant {demo.TENANT} --role owner"
    owner_token = issue_local_token(secret, demo.TENANT, "owner")
    lines = [
        "",
        "Marketing automations: local stack is up" + (f" ({time.monotonic() - started:.1f}s)"),
        f"  Admin             {api}/admin#token={owner_token}",
        "                    (opens the admin page signed in as the demo store's owner)",
        f"  API               {api}",
        f"  AWS_ENDPOINT_URL  {emulator.endpoint}   (export it to use the AWS CLI or boto3 against the emulator)",
        f"  Demo store        tenant '{demo.TENANT}'" + (f", {seeded['customers']} customers, {seeded['sales']} sales, "
                                                          f"{seeded['repairs']} repairs, {seeded['appointments']} "
                                                          "appointments" if seeded else " (not seeded: --no-seed)"),
        f"  Demo automations  {', '.join(seeded['enabled'])} (send hour {seeded['send_hour']}:00 Sydney)"
        if seeded else None,
        f"  Action-taken      {', '.join(seeded['actions'])}: PUT a new customer with an email and a birthday (docs/behaviour.md section 4)"
        if seeded else None,
        f"  Campaigns         a draft to the VIP segment ({len(seeded.get('campaigns', []))}): the admin's Campaigns page, "
        "or POST /campaigns/{id}/test-run, /schedule, /send" if seeded else None,
        f"  Runner            {'manual: no clock, no background workers; run `tick --at ...`' if args.manual else 'a clock evaluates every minute; workers send as messages and customer changes arrive'}",
        f"  Outbox            {api}{OUTBOX_PATH}   (what the emulator's SES and SNS accepted; or `cli outbox`)",
        "",
        "Get a token (any tenant, any role):",
        f"  {token_cmd}",
        "Try it:",
        f'  curl -s -H "Authorization: Bearer $({token_cmd})" {api}/automations',
        "",
        f"Owner token for '{demo.TENANT}', valid 12 hours:",
        f"  {owner_token}",
        "",
        "Ctrl-C stops everything (the emulator keeps its data in memory only).",
    ]
    print("\n".join(line for line in lines if line is not None), flush=True)
    from local import ses_events

    ses_events.install()   # SES's Send and Delivery events of the mail the API and the workers send
    workers = None
    if not args.manual:
        from local.runner import Workers

        workers = Workers(clock=utcnow, report=lambda line: print(line, flush=True))
        workers.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if workers:
            workers.stop()
        server.server_close()
        emulator.stop()
    return 0


def _token(args: argparse.Namespace) -> int:
    from chalicelib.rules.auth import ROLES, issue_local_token

    secret = os.environ.get("LOCAL_JWT_SECRET") or (
        localstack.SECRET_FILE.read_text().strip() if localstack.SECRET_FILE.exists() else None)
    if not secret:
        print("error: no local signing secret yet; start the local stack once with `make run`", file=sys.stderr)
        return 2
    try:
        print(issue_local_token(secret, args.tenant, args.role, subject=args.subject,
                                ttl_seconds=args.hours * 3600))
    except ValueError as e:
        print(f"error: {e} (roles: {', '.join(ROLES)})", file=sys.stderr)
        return 2
    return 0


def _connect() -> str | None:
    """Point this process at the running local stack; returns an error message if there is none."""
    running = localstack.stack_file()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or running.get("aws_endpoint_url")
    if not endpoint:
        return "no local stack found: start one with `make run` (or export the AWS_ENDPOINT_URL it prints)"
    localstack.configure_environment(endpoint, localstack.local_secret(), running.get("api_url"))
    return None


def _parse_at(text: str) -> datetime:
    from chalicelib.core.timeutil import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError("--at must be an ISO-8601 date-time with an offset, "
                                         "such as 2026-12-18T10:00:00+11:00") from None


def _tick(args: argparse.Namespace) -> int:
    problem = _connect()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    from local.runner import tick

    try:
        summary = tick(args.at or datetime.now(timezone.utc))
    except (BotoCoreError, ClientError) as e:
        print(f"error: the local stack at {os.environ['AWS_ENDPOINT_URL']} did not answer as expected ({e}); "
              "is `make run` still running?", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from urllib.error import URLError
    from urllib.request import urlopen

    api = localstack.stack_file().get("api_url")
    if not api:
        print("error: no local stack found: start one with `make run`", file=sys.stderr)
        return 2
    from local.api import OUTBOX_PATH

    try:
        with urlopen(api + OUTBOX_PATH, timeout=10) as response:  # noqa: S310 - our own loopback address
            box = json.loads(response.read())
    except (URLError, OSError, ValueError) as e:
        print(f"error: could not read {api}{OUTBOX_PATH} ({e}); is `make run` still running?", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(box, indent=2))
        return 0
    for mail in box["emails"][-args.last:]:
        print(f"email  {mail['to']:<45} {mail['subject']}")
    for sms in box["sms"][-args.last:]:
        print(f"sms    {sms['to']:<45} {sms['body'][:70]}")
    print(f"{len(box['emails'])} emails and {len(box['sms'])} SMS accepted since the stack started")
    return 0


def _engage(args: argparse.Namespace) -> int:
    """SES's event of a person (or a mail privacy proxy) opening, or a person clicking, the customer's latest
    email (or the one named), published to the configuration set's topic and recorded as the cloud records it."""
    problem = _connect()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from local import engage

    try:
        print(json.dumps(engage.run(args.action, args.tenant, args.customer, proxy=args.proxy, link=args.link,
                                    record_id=args.record, at=args.at), indent=2))
    except engage.NoEmail as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _mapping_arg(text: str) -> tuple[str, str]:
    column, sep, field = text.rpartition("=")
    if not sep or not column or not field:
        raise argparse.ArgumentTypeError("--map takes COLUMN=FIELD, such as 'E-mail=email' or 'Notes=ignore'")
    return column, field


def _import(args: argparse.Namespace) -> int:
    """A customer file through the local stack's API, as the admin page sends one (local/imports.py)."""
    problem = _connect()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from local import imports

    return imports.run(args.file, args.tenant, dry_run=args.dry_run, mapping=dict(args.map or []),
                       date_order=args.date_order, work=args.work, api=args.api)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the whole system on this machine")
    serve.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="API port (default %(default)s)")
    serve.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT,
                       help="AWS emulator port (default %(default)s; 0 picks a free one)")
    serve.add_argument("--no-seed", action="store_true", help="start without the demo store")
    serve.add_argument("--manual", action="store_true", help="no clock and no background workers")
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="print a bearer token the local stack accepts")
    token.add_argument("--tenant", required=True)
    token.add_argument("--role", required=True)
    token.add_argument("--subject", help="the user id recorded as updated_by (default tenant:role)")
    token.add_argument("--hours", type=int, default=12, help="validity (default %(default)s)")
    token.set_defaults(run=_token)

    tick = commands.add_parser("tick", help="evaluate one instant and process every resulting send")
    tick.add_argument("--at", type=_parse_at, help="the instant (ISO-8601 with offset; default now)")
    tick.set_defaults(run=_tick)

    outbox = commands.add_parser("outbox", help="list the emails and SMS the local stack sent")
    outbox.add_argument("--last", type=int, default=20, help="how many of each (default %(default)s)")
    outbox.add_argument("--json", action="store_true", help="everything, as JSON")
    outbox.set_defaults(run=_outbox)

    engage = commands.add_parser("engage", help="a customer opens or clicks their latest email (SES's event)")
    engage.add_argument("action", choices=("open", "click"))
    engage.add_argument("--tenant", required=True)
    engage.add_argument("--customer", required=True)
    engage.add_argument("--proxy", action="store_true",
                        help="the open is Apple Mail Privacy Protection's proxy fetching the images, not a person")
    engage.add_argument("--link", default="https://example.com/",
                        help="the link clicked (default %(default)s)")
    engage.add_argument("--record", help="the communication id of the email (default: the customer's latest sent email)")
    engage.add_argument("--at", type=_parse_at, help="when (ISO-8601 with offset; default now)")
    engage.set_defaults(run=_engage)

    imported = commands.add_parser("import", help="import a CSV of customers through the local stack's API")
    imported.add_argument("file", help="the CSV file (UTF-8 with or without a BOM, UTF-16 or Windows-1252)")
    imported.add_argument("--tenant", required=True)
    imported.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    imported.add_argument("--map", action="append", type=_mapping_arg, metavar="COLUMN=FIELD",
                          help="map a column to a field (repeatable; other columns as suggested from the header)")
    imported.add_argument("--date-order", choices=("dmy", "mdy"), default="dmy",
                          help="dates written with slashes are DD/MM/YYYY (dmy, default) or MM/DD/YYYY (mdy)")
    imported.add_argument("--work", choices=("auto", "here", "workers"), default="auto",
                          help="who runs the chunk jobs: this command (here), serve's workers, or here only when "
                               "serve runs --manual (auto, default)")
    imported.add_argument("--api", help="the API's address (default: the one `serve` wrote in .local/stack.json)")
    imported.set_defaults(run=_import)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Command line of the local stack: `serve` and `token` (spec section 9)."""
from __future__ import annotations

import argparse
import os
import sys
import time

from chalicelib import localstack

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
    localstack.configure_environment(emulator.endpoint, secret)

    # Imported only now: models and the app read their configuration from the environment.
    from app import app
    from chalicelib import demo
    from chalicelib.auth import issue_local_token
    from chalicelib.http import utcnow
    from chalicelib.localapi import make_server

    localstack.create_resources([demo.SENDER_DOMAIN])
    seeded = demo.seed(utcnow()) if not args.no_seed else None
    server = make_server(app, host, args.port)
    api = f"http://{host}:{args.port}"
    token_cmd = f"{sys.executable} -m chalicelib.cli token --tenant {demo.TENANT} --role owner"
    owner_token = issue_local_token(secret, demo.TENANT, "owner")
    lines = [
        "",
        "Marketing automations: local stack is up" + (f" ({time.monotonic() - started:.1f}s)"),
        f"  API               {api}",
        f"  AWS_ENDPOINT_URL  {emulator.endpoint}   (export it to use the AWS CLI or boto3 against the emulator)",
        f"  Demo store        tenant '{demo.TENANT}'" + (f", {seeded['customers']} customers, {seeded['sales']} sales, "
                                                          f"{seeded['repairs']} repairs, {seeded['appointments']} "
                                                          "appointments" if seeded else " (not seeded: --no-seed)"),
        f"  Mode              {'manual: no clock, no background workers' if args.manual else 'automatic'}",
        "  Runner            not part of this build yet: configuration and data only, nothing is sent",
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
    print("\n".join(lines), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.stop()
    return 0


def _token(args: argparse.Namespace) -> int:
    from chalicelib.auth import ROLES, issue_local_token

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
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

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

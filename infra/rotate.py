"""Rotate the unsubscribe links' key of a deployed stage (or of the running local stack).

Usage: python -m infra.rotate --stage prod [--region eu-west-1] [--stack NAME] [--revoke-old]
       python -m infra.rotate --local [--revoke-old]

A new key, generated here, becomes the current one: every link made from then on is sealed with it (each
function reads it within `MAX_AGE_SECONDS`). The key it replaces is retired now and still opens the links it
sealed for `GRACE`; keys retired longer ago are dropped. `--revoke-old` drops every older key at once (a key
that leaked): the links in mail already sent stop working. The erasure key is another secret and is never
touched. Needs `secretsmanager:GetSecretValue` and `PutSecretValue` on the secret, and
`cloudformation:DescribeStackResource` to find it by the stack.
"""
from __future__ import annotations

import argparse
import secrets as random
import sys
from datetime import datetime

from chalicelib.adapters.secrets import GRACE, MAX_AGE_SECONDS, KeyRing
from chalicelib.core.clock import utcnow
from chalicelib.core.timeutil import to_iso

#: The logical id of the unsubscribe keys' secret in the packaged template (infra/template.py).
SECRET_LOGICAL_ID = "UnsubscribeSecret"


def rotate(client, secret_id: str, now: datetime, *, revoke_old: bool = False) -> KeyRing:
    """Put a new current key in the secret, retiring the one in use; returns the ring written."""
    ring = KeyRing.parse(client.get_secret_value(SecretId=secret_id)["SecretString"])
    rotated = ring.rotated(random.token_urlsafe(48), now, keep_retired=not revoke_old)
    client.put_secret_value(SecretId=secret_id, SecretString=rotated.dumps())
    return rotated


def stack_secret(stack: str, region: str | None) -> str:
    import boto3

    found = boto3.client("cloudformation", region_name=region).describe_stack_resource(
        StackName=stack, LogicalResourceId=SECRET_LOGICAL_ID)
    return found["StackResourceDetail"]["PhysicalResourceId"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stage", help="the deployed stage (its stack is automations-<stage> unless --stack)")
    where.add_argument("--local", action="store_true", help="the running local stack (make run)")
    parser.add_argument("--stack", help="the stack's name, if not automations-<stage>")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    parser.add_argument("--revoke-old", action="store_true",
                        help="drop every older key now: links in mail already sent stop working")
    args = parser.parse_args(argv)

    import boto3

    if args.local:
        import os

        from local.stack import REGION, configure_environment, local_secret, stack_file

        # As `cli tick` finds it: the AWS_ENDPOINT_URL `serve` printed, else the stack `make run` wrote down.
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or stack_file().get("aws_endpoint_url")
        if not endpoint:
            print("error: no local stack found: start one with `make run` (or export the AWS_ENDPOINT_URL it "
                  "prints)", file=sys.stderr)
            return 2
        configure_environment(endpoint, local_secret())
        from chalicelib.core import config

        client, secret_id = boto3.client("secretsmanager", region_name=REGION), config.unsubscribe_secret_id()
    else:
        secret_id = stack_secret(args.stack or f"automations-{args.stage}", args.region)
        client = boto3.client("secretsmanager", region_name=args.region)
    now = utcnow()
    ring = rotate(client, secret_id, now, revoke_old=args.revoke_old)
    print(f"New unsubscribe key in use by every function within {MAX_AGE_SECONDS // 60} minutes.")
    if args.revoke_old:
        print("Every older key is dropped: links in mail sent before now no longer work.")
    else:
        print(f"Links sealed before now keep working until {to_iso(now + GRACE)}; "
              f"{len(ring.keys) - 1} retired key(s) still honoured.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

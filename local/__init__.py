"""The local stack: the AWS emulator, the API over HTTP, the runner's clock, the demo store and the command
line (`python -m local.cli`). Never part of the Lambda package."""

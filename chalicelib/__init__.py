"""Marketing automations runner: the code that ships in every Lambda function, by layer (see docs/architecture.md)."""

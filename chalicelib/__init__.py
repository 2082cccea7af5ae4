"""Marketing automations runner: domain code, adapters and the local stack."""

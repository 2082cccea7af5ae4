"""The runner's Lambda entry points: one Chalice blueprint per function, so each imports only what it runs."""

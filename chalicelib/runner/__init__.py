"""The runner: evaluations (who is due and when), the customers stream consumer and SES feedback."""

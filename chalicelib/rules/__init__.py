"""Pure rules over the core values: dispatch checks, action-taken rules, templating in a sandbox, request
validation, tokens and roles."""

"""Pure values and rules of time: the catalog of types, calendars, schedules, errors, configuration names.
Imports no AWS or web library, so every other layer may use it."""

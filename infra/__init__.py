"""Cloud infrastructure generated from the project's own definitions."""

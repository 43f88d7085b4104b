"""Categorical events: one row per event, categorical (and numeric) fields.

Importing this package imports nothing else (see docs/architecture.md); the input policy
is in ``normalcy.events.input`` and docs/events.md.
"""

"""Temporal activities: every piece of I/O a call workflow needs (Store API, audit, call log, SMS)."""

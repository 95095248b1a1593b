"""Temporal activities: all I/O of a call workflow (Store API, audit, call log, SMS)."""

"""Deterministic call workflows: the dialog's stage machine, guards and the CallWorkflow.

Nothing here does I/O: activities (in `activities/`) talk to the outside world.
"""

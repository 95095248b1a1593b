"""`Refusal`: an update refused in words meant for the person who sent it.

Every other failure message travels encrypted (core/temporal.py), but the Temporal Web UI
shows the reason an update was refused as it gets it, without asking the codec server — an
operator would read only "Encoded failure". A refusal is fixed text about the call's state
("This call has no order to cancel."), never caller data, so it stays readable. A refused
update leaves nothing in the history either way.
"""

from __future__ import annotations


class Refusal(ValueError):
    """Raised by an update validator; the message is shown to the sender as it is."""

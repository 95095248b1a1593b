"""Phone numbers out of text that goes to logs, exception messages and the Temporal UI.

The masking itself lives in `core.phones`; the client re-exports it for its callers.
"""

from __future__ import annotations

from core.phones import mask_phone, mask_phones_in

__all__ = ["mask_phone", "mask_phones_in"]

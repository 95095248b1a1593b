"""The one error speech providers raise: the edge treats it as "this service is down"."""

from __future__ import annotations


class SpeechUnavailable(Exception):
    """An STT or TTS service is down, refused us, or is misconfigured; the message says which."""

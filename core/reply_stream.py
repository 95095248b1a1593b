"""Streamed replies, worker → edge: the messages and the edge's per-turn rules (no I/O).

The agent activity publishes each finished sentence of the model's reply to an HTTP endpoint
of the edge that handles the call (docs/streaming.md says why this channel); the edge speaks
it while the model still writes. The workflow's update result stays the record of what was
said, so the rules here make sure the caller never hears what that record will not hold:

- a turn is addressed by (call id, turn key); the edge picks the turn key and sends a
  `StreamTarget` with the turn; the worker proves it may speak with `turn_token`, an HMAC
  of the shared secret, so the secret itself never travels and a token opens one turn only;
- sentences carry an index and are accepted strictly in order, each at most once: a repeat
  with the same text is a harmless duplicate, a different text at a taken index a conflict;
- a publisher is (step, attempt, nonce): the model step inside the turn, the Temporal
  attempt, and a random name of its own. Opening a turn fences off every other publisher
  not ranked above it, so a retried attempt (or a worker that was presumed dead) can no
  longer add sentences behind the back of the new one, and the new one learns the prefix
  already held by the edge and continues after it. The nonce matters for a local activity:
  when its worker dies the workflow task runs again elsewhere and the activity starts over
  as attempt 1 of the same step, ranked equal to the one it replaces;
- a hint names the sentence that will probably come next, before it is certain (the model
  wrote "…есть." but whether a lowercase word follows is not known yet): the edge may start
  synthesising it, but a hint is never spoken - only the sentence that then arrives is, and
  a hint that turns out wrong is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Paths under `StreamTarget.url`.
OPEN_PATH = "/open"
SENTENCE_PATH = "/sentence"
HINT_PATH = "/hint"
# A spoken sentence is short; the bound keeps a bad publisher from filling the edge's memory.
MAX_SENTENCE_CHARS = 2000
MAX_SENTENCES_PER_TURN = 500

Name = Annotated[str, Field(min_length=1, max_length=200)]
# A publisher's own name; "" from publishers older than the nonce (they rank by step and
# attempt alone).
Nonce = Annotated[str, Field(max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamTarget(_Message):
    """Where a turn's sentences go; sent by the edge with the turn. Holds no secret, so it may
    be recorded in workflow history."""

    url: Annotated[str, Field(min_length=1, max_length=500)]
    call_id: Name
    turn_key: Name


class _FromPublisher(_Message):
    """Who sends: the turn, and the publisher's rank in it (step, attempt, nonce)."""

    call_id: Name
    turn_key: Name
    step: Annotated[int, Field(ge=0)] = 0
    attempt: Annotated[int, Field(ge=1)] = 1
    publisher: Nonce = ""


class StreamOpen(_FromPublisher):
    """A publisher starts (or resumes) a turn and asks what the edge already holds."""


class SentenceMessage(_FromPublisher):
    """One finished sentence of a turn, or (`final` with empty text) the end of the turn."""

    index: Annotated[int, Field(ge=0, lt=MAX_SENTENCES_PER_TURN)]
    text: Annotated[str, Field(max_length=MAX_SENTENCE_CHARS)]
    final: bool = False

    @model_validator(mode="after")
    def _text_or_final(self) -> SentenceMessage:
        if not self.text.strip() and not self.final:
            raise ValueError("a sentence needs text; only the final marker may be empty")
        return self


class HintMessage(_FromPublisher):
    """The sentence that will probably come next at `index`: never spoken by itself."""

    index: Annotated[int, Field(ge=0, lt=MAX_SENTENCES_PER_TURN)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_SENTENCE_CHARS)]


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already held with the same text: nothing new is spoken
    STALE = "stale"  # not the turn's current publisher: a later step or attempt opened it
    GAP = "gap"  # an index past the next one: an earlier sentence never arrived
    CONFLICT = "conflict"  # the index is taken by a different text
    CLOSED = "closed"  # the turn ended (final, or its reply arrived): nothing more is spoken


class OpenResult(_Message):
    verdict: Verdict
    # What the edge holds for the turn, in order: the start of the reply the opener must give.
    sentences: list[str] = Field(default_factory=list)
    final: bool = False


class PublishResult(_Message):
    verdict: Verdict
    held: int  # sentences the edge holds for the turn after this message


def turn_token(secret: str, call_id: str, turn_key: str) -> str:
    """The bearer token for one turn: HMAC-SHA256(secret, call id, turn key)."""
    message = f"{call_id}\n{turn_key}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_matches(secret: str, call_id: str, turn_key: str, token: str) -> bool:
    return hmac.compare_digest(turn_token(secret, call_id, turn_key), token)


@dataclass
class TurnLog:
    """The edge's record of one turn: the sentences it accepted and who may add more."""

    sentences: list[str] = field(default_factory=list)
    # (step, attempt, nonce) of the current publisher
    publisher: tuple[int, int, str] | None = None
    final: bool = False
    closed: bool = False
    hint: tuple[int, str] | None = None  # (index, text) of the sentence probably next

    def open(self, request: StreamOpen) -> OpenResult:
        if self.closed:
            return OpenResult(verdict=Verdict.CLOSED)
        rank = (request.step, request.attempt)
        if self.publisher is not None and rank < self.publisher[:2]:
            return OpenResult(verdict=Verdict.STALE)
        # An equal rank takes over: the later opener is the one still running.
        self.publisher = (request.step, request.attempt, request.publisher)
        return OpenResult(
            verdict=Verdict.ACCEPTED, sentences=list(self.sentences), final=self.final
        )

    def offer(self, message: SentenceMessage) -> PublishResult:
        verdict = self._judge(message)
        if verdict is Verdict.ACCEPTED:
            if message.text.strip():
                self.sentences.append(message.text)
            self.final = self.final or message.final
        return PublishResult(verdict=verdict, held=len(self.sentences))

    def suggest(self, message: HintMessage) -> Verdict:
        """Take a hint for the next sentence (it changes nothing that is spoken)."""
        if self.closed or self.final:
            return Verdict.CLOSED
        if (message.step, message.attempt, message.publisher) != self.publisher:
            return Verdict.STALE
        if message.index != len(self.sentences):
            return Verdict.GAP if message.index > len(self.sentences) else Verdict.CONFLICT
        self.hint = (message.index, message.text)
        return Verdict.ACCEPTED

    def _judge(self, message: SentenceMessage) -> Verdict:
        if self.closed:
            return Verdict.CLOSED
        if (message.step, message.attempt, message.publisher) != self.publisher:
            return Verdict.STALE
        held = len(self.sentences)
        if message.index > held:
            return Verdict.GAP
        if not message.text.strip():  # the final marker, always at the next index
            if message.index < held:
                return Verdict.CONFLICT
            return Verdict.DUPLICATE if self.final else Verdict.ACCEPTED
        if message.index < held:  # a repeat; its final flag, if any, changes nothing
            same = self.sentences[message.index] == message.text
            return Verdict.DUPLICATE if same else Verdict.CONFLICT
        if self.final or held >= MAX_SENTENCES_PER_TURN:
            return Verdict.CLOSED
        return Verdict.ACCEPTED


@dataclass(frozen=True)
class Unspoken:
    """What of the recorded reply the edge still has to speak after the streamed sentences."""

    sentences: list[str]
    # The recorded reply does not start with what was streamed: the caller may have heard
    # words the record does not hold. Never expected; counted and logged by the edge.
    diverged: bool


def unspoken(streamed: Sequence[str], reply: Sequence[str]) -> Unspoken:
    """The rest of `reply` after the sentences already streamed for its turn."""
    common = 0
    for heard, recorded in zip(streamed, reply, strict=False):
        if heard != recorded:
            break
        common += 1
    return Unspoken(sentences=list(reply[common:]), diverged=common < len(streamed))

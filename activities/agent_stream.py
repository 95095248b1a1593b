"""One model step streamed to the edge: the model's words go out sentence by sentence while it
still writes, and the step says which of them the caller hears (`AgentReply.spoken`).

What the caller hears must be what the workflow records (docs/streaming.md), so:

- sentences come from `SentenceStream`, which gives the first sentences of the finished text
  whatever the pieces - the early ones are never worded differently in the record;
- the edge may already hold sentences of this step (an earlier attempt, or the same attempt
  run again after its worker died): they open this step's reply, the model is asked to go on
  after them, and a sentence it repeats anyway is not sent again;
- the edge may lack sentences the workflow recorded for an earlier step (a request that
  failed): they are sent first, so the edge holds the record's order;
- words written before a tool call are sent as they are complete; once the first tool call
  arrives no more words go out. The step's `spoken` is the words that went out (the tool
  itself is only a proposal: the workflow validates and runs it after this step returns);
- a step without tool calls is the end of the reply: every sentence is `spoken`, sent or
  not (what the edge lacks it speaks from the record).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from activities.interfaces.agent import AgentRequest
from activities.reply_stream import TurnPublisher
from core.caller_text import utf8_safe
from prompts import CONTINUE_AFTER_CUT
from russian.text import SentenceStream

log = structlog.get_logger("agent")


@dataclass(frozen=True)
class StepStart:
    """Where this step's reply starts, from what the edge holds and the workflow recorded."""

    # Sentences of this step the edge already holds: the reply must begin with them.
    earlier: list[str]
    # Sentences of earlier steps the workflow recorded but the edge does not hold.
    catch_up: list[str]

    @classmethod
    def of(cls, turn: TurnPublisher, spoken_before: list[str]) -> StepStart:
        if not turn.prefix_known:
            return cls(earlier=[], catch_up=[])
        held = list(turn.prefix)
        if held[: len(spoken_before)] == spoken_before:
            return cls(earlier=held[len(spoken_before) :], catch_up=[])
        if spoken_before[: len(held)] == held:
            return cls(earlier=[], catch_up=spoken_before[len(held) :])
        # Not expected while every step follows these rules; the edge logs the divergence.
        log.warning(
            "reply_stream_prefix_conflict",
            held=len(held),
            recorded=len(spoken_before),
            step=turn.step,
        )
        return cls(earlier=[], catch_up=[])

    def messages(self, request: AgentRequest) -> list[dict[str, Any]]:
        """The conversation for the model: with sentences already heard, ask it to go on."""
        if not self.earlier:
            return request.messages
        return [
            *request.messages,
            {"role": "assistant", "content": " ".join(self.earlier)},
            {"role": "system", "content": CONTINUE_AFTER_CUT},
        ]


@dataclass
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class StreamedWords:
    """The model's stream as it arrives: its text, its tool calls, and the sentences sent."""

    turn: TurnPublisher
    start: StepStart
    max_chars: int
    text: str = ""
    calls: dict[int, _CallParts] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)  # this attempt's, in order
    # perf_counter stamps for the log: the model's first word, the first sentence sent
    first_token_at: float | None = None
    first_sentence_at: float | None = None
    _splitter: SentenceStream = field(default_factory=SentenceStream)
    _repeats: list[str] = field(default_factory=list)
    _words_done: bool = False
    _hinted: str | None = None

    def __post_init__(self) -> None:
        # A model asked to go on sometimes starts by saying again what was heard.
        self._repeats = list(self.start.earlier)
        for sentence in self.start.catch_up:
            self.turn.publish(sentence)

    def content(self, piece: str) -> None:
        room = self.max_chars - len(self.text)
        piece = utf8_safe(piece[: max(0, room)])
        if not piece:
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.text += piece
        if not self._words_done:
            self._emit(self._splitter.feed(piece))
            self._hint()

    def tool_call(
        self, index: int, id: str | None, name: str | None, arguments: str | None
    ) -> None:
        if not self._words_done:
            # Models write their words before their tool calls: the last sentence is whole.
            self._emit(self._splitter.finish())
            self._words_done = True
        parts = self.calls.setdefault(index, _CallParts())
        parts.id += id or ""
        parts.name += name or ""
        parts.arguments += arguments or ""

    def end(self) -> None:
        if not self._words_done:
            self._emit(self._splitter.finish())
            self._words_done = True

    def spoken(self) -> list[str]:
        """This step's sentences as the caller hears them. Call after `turn.finish()`: with
        tool calls only the words that went out to the edge count, without them all."""
        if self.calls:
            sent = self.turn.offered[len(self.start.catch_up) :]
            return [*self.start.earlier, *sent]
        return [*self.start.earlier, *self.sentences]

    def record_text(self) -> str | None:
        """The step's words for the conversation the model sees next time."""
        text = " ".join([*self.start.earlier, self.text.strip()]).strip()
        return text or None

    def _hint(self) -> None:
        """A sentence that seems to end here goes to the edge as a hint: it can start the
        speech one token before the sentence is certain (the edge never speaks a hint)."""
        candidate = self._splitter.candidate()
        if candidate is None or candidate == self._hinted:
            return
        if self._repeats and candidate == self._repeats[0]:
            return  # a repeat of what was heard: it will not be sent
        self._hinted = candidate
        self.turn.hint(candidate)

    def _emit(self, sentences: list[str]) -> None:
        for sentence in sentences:
            if self._repeats and sentence == self._repeats[0]:
                self._repeats.pop(0)
                continue
            self._repeats = []
            self.sentences.append(sentence)
            self.turn.publish(sentence)
            if self.first_sentence_at is None:
                self.first_sentence_at = time.perf_counter()

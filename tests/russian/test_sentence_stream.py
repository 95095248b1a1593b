"""`SentenceStream`: sentences of a model's reply while it is still being written are the
first sentences of the finished reply (`reply_sentences`), whatever the pieces - what a
caller hears early is never worded differently in the recorded reply."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from russian.text import SentenceStream, reply_sentences

# Pieces of what models write: words, numbers, abbreviations that do and do not end a
# sentence, every kind of sentence end, quotes, line breaks (\r\n split across pieces too).
_TOKENS = st.sampled_from(
    [
        "Гречка", "есть", "пачка", "900 г", "112 ₽", "ул.", "Тверская", "д.", "7", "т. е.",
        "руб.", "Спасибо", "и", "А.", "С.", "Пушкин", "т.д.", "5 шт.", "да", "нет", "**Итого:**",
        ".", "!", "?", "…", "...", "?!", "»", "«", ",", ":", " ", "  ", "\n", "\r\n", "\r", "\n\n",
        "- ", "2.", "30.11", "Доставка", "завтра",
    ]
)  # fmt: skip


@st.composite
def texts_in_pieces(draw: st.DrawFn) -> tuple[str, list[str]]:
    tokens = draw(st.lists(_TOKENS, max_size=40))
    text = ""
    for token in tokens:
        text += token if token.isspace() or not text or text[-1].isspace() else " " + token
        if draw(st.booleans()):
            text += " "
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return text, pieces


def stream(pieces: list[str]) -> tuple[list[str], list[list[str]]]:
    splitter = SentenceStream()
    given_out = [splitter.feed(piece) for piece in pieces]
    last = splitter.finish()
    return [s for batch in given_out for s in batch] + last, given_out


@settings(max_examples=400, deadline=None)
@given(texts_in_pieces())
def test_any_pieces_give_the_sentences_of_the_whole_text(case: tuple[str, list[str]]) -> None:
    text, pieces = case
    sentences, _ = stream(pieces)
    assert sentences == reply_sentences(text)


@settings(max_examples=200, deadline=None)
@given(texts_in_pieces())
def test_what_a_prefix_gives_starts_the_whole_text(case: tuple[str, list[str]]) -> None:
    text, pieces = case
    splitter = SentenceStream()
    early: list[str] = []
    for piece in pieces:
        early += splitter.feed(piece)
        assert reply_sentences(text)[: len(early)] == early


def test_a_sentence_is_given_as_soon_as_it_is_certain() -> None:
    splitter = SentenceStream()
    assert splitter.feed("Гречка есть. ") == []  # a lowercase word could still follow
    assert splitter.feed("Пачка 900 г стоит 112 ₽. Добавить? ") == [
        "Гречка есть.",
        "Пачка девятьсот грамм стоит сто двенадцать рублей.",
        "Добавить?",  # "?" ends a sentence whatever follows
    ]
    assert splitter.feed("Доставим на ул. ") == []
    assert splitter.feed("Тверская, д. 7.\n") == ["Доставим на улица Тверская, дом семь."]
    assert splitter.feed("Всё") == []
    assert splitter.finish() == ["Всё"]


def test_word_by_word_as_the_fake_model_streams() -> None:
    reply = "Да, гречка есть. Стоит 112 ₽ за пачку. Сколько пачек положить?"
    words = reply.split(" ")
    sentences, batches = stream([w + " " for w in words[:-1]] + [words[-1]])
    assert sentences == reply_sentences(reply)
    # the first sentence is out with the next word, long before the reply is written
    first = next(i for i, batch in enumerate(batches) if batch)
    assert first == words.index("гречка") + 2


def test_the_candidate_is_the_sentence_that_seems_to_end_where_the_text_stops() -> None:
    splitter = SentenceStream()
    assert splitter.feed("Гречка есть.") == [] and splitter.candidate() == "Гречка есть."
    assert splitter.feed(" Пачка") == ["Гречка есть."]  # the guess was right
    assert splitter.candidate() is None  # "Пачка" ends nothing yet
    splitter.feed(" стоит 112 ₽?")
    assert splitter.candidate() == "Пачка стоит сто двенадцать рублей?"
    splitter.feed(" Доставим на ул.")
    assert splitter.candidate() is None  # "ул." never ends a sentence


def test_a_wrong_candidate_is_only_a_guess() -> None:
    splitter = SentenceStream()
    splitter.feed("Стоит 5 руб.")
    assert splitter.candidate() == "Стоит пять рублей."
    assert splitter.feed(" за пачку.") == []  # lowercase: the sentence goes on
    assert splitter.finish() == ["Стоит пять рублей за пачку."]


@settings(max_examples=200, deadline=None)
@given(texts_in_pieces())
def test_a_candidate_never_changes_what_is_given(case: tuple[str, list[str]]) -> None:
    text, pieces = case
    splitter = SentenceStream()
    given_out: list[str] = []
    for piece in pieces:
        given_out += splitter.feed(piece)
        splitter.candidate()
    assert given_out + splitter.finish() == reply_sentences(text)

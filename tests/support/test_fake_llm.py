"""The fake LLM and the fake speech service, driven by the real `openai` SDK."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)
from pydantic import BaseModel

from tests.support.fake_llm import (
    ANONYMOUS,
    CALL_ID_HEADER,
    DEFAULT_REPLY_TEXT,
    FakeLLM,
    Reply,
    ToolCall,
    last_tool_result,
    last_user_text,
    offered_tools,
)
from tests.support.fake_openai_audio import SPEECH_SAMPLE_RATE, FakeSpeech, synthesize, to_wav

KEY = "test-llm-key"
MODEL = "gpt-4o-mini"

SEARCH: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "search_products",
        "description": "Поиск товаров",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query", "limit"],
            "additionalProperties": False,
        },
    },
}
GET_PRODUCT: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_product",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"product_id": {"type": "string"}},
            "required": ["product_id"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [SEARCH, GET_PRODUCT]
HELLO: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Вы оператор магазина."},
    {"role": "user", "content": "Хочу гречку"},
]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
async def client(llm: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key=KEY, max_retries=0) as c:
        yield c


def calls_of(
    reply: ChatCompletion | ChatCompletionMessage,
) -> list[ChatCompletionMessageFunctionToolCall]:
    message = reply.choices[0].message if isinstance(reply, ChatCompletion) else reply
    calls = message.tool_calls or []
    function_calls = [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]
    assert len(function_calls) == len(calls)
    return function_calls


def on_call(call_id: str) -> dict[str, str]:
    return {CALL_ID_HEADER: call_id}


async def ask(
    client: openai.AsyncOpenAI,
    call_id: str,
    messages: list[ChatCompletionMessageParam] = HELLO,
    tools: list[ChatCompletionFunctionToolParam] = TOOLS,
) -> openai.types.chat.ChatCompletion:
    return await client.chat.completions.create(
        model=MODEL, messages=messages, tools=tools, extra_headers=on_call(call_id)
    )


async def test_tool_call_is_parsed_by_the_sdk(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.script("c1", [Reply.tool("search_products", {"query": "гречка", "limit": 3})])

    response = await ask(client, "c1")

    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = calls_of(choice.message)
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "search_products"
    assert json.loads(call.function.arguments) == {"query": "гречка", "limit": 3}
    assert response.model == MODEL
    assert response.usage is not None
    assert response.usage.prompt_tokens > 10
    assert response.usage.total_tokens == (
        response.usage.prompt_tokens + response.usage.completion_tokens
    )
    llm.assert_consumed()


async def test_text_reply(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    text = "Нашла гречку ядрица за восемьдесят девять рублей. Сколько пачек?"
    llm.script("c1", [Reply.text(text)])

    response = await ask(client, "c1")

    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.content == text
    assert response.choices[0].message.tool_calls is None


async def test_parallel_tool_calls_get_distinct_ids(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script(
        "c1",
        [
            Reply.tools(
                ("search_products", {"query": "гречка", "limit": 1}),
                ToolCall("get_product", {"product_id": "p-1"}, id="call_fixed"),
            )
        ],
    )

    calls = calls_of(await ask(client, "c1"))

    assert [c.function.name for c in calls] == ["search_products", "get_product"]
    assert calls[1].id == "call_fixed"
    assert calls[0].id != calls[1].id


async def test_dynamic_reply_reads_the_tool_result(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    def pick_first(request: dict[str, Any]) -> Reply:
        found = last_tool_result(request, "search_products")
        return Reply.tool("get_product", {"product_id": found["items"][0]["product_id"]})

    llm.script(
        "c1",
        [Reply.tool("search_products", {"query": "гречка", "limit": 3}), Reply.dynamic(pick_first)],
    )
    first = (await ask(client, "c1")).choices[0].message
    [call] = calls_of(first)
    result = {"items": [{"product_id": "p-42", "name": "Гречка ядрица", "price": 89}]}
    messages: list[ChatCompletionMessageParam] = [
        *HELLO,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
    ]

    second = (await ask(client, "c1", messages)).choices[0].message

    [chosen] = calls_of(second)
    assert json.loads(chosen.function.arguments) == {"product_id": "p-42"}


async def test_streaming_text_and_tool_call(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    text = "Секунду, проверяю. Гречка есть в наличии."
    arguments = {"query": "гречка ядрица 900 грамм", "limit": 3}
    llm.script("c1", [Reply.tool("search_products", arguments, content=text)])

    stream = await client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=on_call("c1"),
    )
    content: list[str] = []
    pieces: list[str] = []
    finish, usage = None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            pieces.extend(
                c.function.arguments or "" for c in choice.delta.tool_calls or [] if c.function
            )
            finish = choice.finish_reason or finish

    assert "".join(content) == text
    assert len([p for p in content if p]) > 1  # sentence by sentence needs real chunks
    assert json.loads("".join(pieces)) == arguments
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens > 0


async def test_sdk_stream_helper_assembles_the_completion(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script(
        "c1",
        [
            Reply.tools(
                ("search_products", {"query": "рис", "limit": 2}),
                ("get_product", {"product_id": "p-7"}),
            )
        ],
    )

    async with client.chat.completions.stream(
        model=MODEL, messages=HELLO, tools=TOOLS, extra_headers=on_call("c1")
    ) as stream:
        final = await stream.get_final_completion()

    calls = calls_of(final)
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("search_products", {"query": "рис", "limit": 2}),
        ("get_product", {"product_id": "p-7"}),
    ]


async def test_wrong_key_is_401_and_consumes_nothing(llm: FakeLLM) -> None:
    llm.script("c1", [Reply.text("Здравствуйте")])
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await ask(bad, "c1")

    assert caught.value.code == "invalid_api_key"
    assert len(llm.unconsumed("c1")) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (429, openai.RateLimitError),
    ],
)
async def test_injected_failure_surfaces_and_keeps_the_script_step(
    llm: FakeLLM, client: openai.AsyncOpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    llm.script("c1", [Reply.text("Здравствуйте")])
    llm.fail_next("c1", status=status)

    with pytest.raises(error) as caught:
        await ask(client, "c1")
    assert caught.value.status_code == status

    # The failed attempt took no step: the retry gets the reply it would have had.
    assert (await ask(client, "c1")).choices[0].message.content == "Здравствуйте"
    assert [e.status for e in llm.exchanges] == [status, 200]


async def test_sdk_retries_through_a_short_outage(llm: FakeLLM) -> None:
    llm.script("c1", [Reply.text("Здравствуйте")])
    llm.fail_next(status=503, count=2, retry_after=0.01)

    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key=KEY, max_retries=2) as retrying:
        response = await ask(retrying, "c1")

    assert response.choices[0].message.content == "Здравствуйте"
    assert len(llm.requests("c1")) == 3


async def test_fail_all_until_recover(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.script("c1", [Reply.text("Снова на связи")])
    llm.fail_all(503)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            await ask(client, "c1")

    llm.recover()

    assert (await ask(client, "c1")).choices[0].message.content == "Снова на связи"


async def test_scripted_failure_consumes_its_step(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.script("c1", [Reply.text("раз"), Reply.fail(502), Reply.text("два")])

    assert (await ask(client, "c1")).choices[0].message.content == "раз"
    with pytest.raises(openai.InternalServerError):
        await ask(client, "c1")
    assert (await ask(client, "c1")).choices[0].message.content == "два"
    llm.assert_consumed()


async def test_latency_and_a_client_timeout_that_consumes_nothing(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script("c1", [Reply.text("раз"), Reply.text("два")])
    llm.set_latency(0.3)
    started = time.monotonic()
    assert (await ask(client, "c1")).choices[0].message.content == "раз"
    assert time.monotonic() - started >= 0.3

    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.05).chat.completions.create(
            model=MODEL, messages=HELLO, extra_headers=on_call("c1")
        )
    async with asyncio.timeout(10):
        await llm.wait_settled()  # the abandoned handler wakes up and sees the client gone

    assert llm.exchanges[-1].status == 499
    assert len(llm.unconsumed("c1")) == 1
    llm.set_latency(0)
    assert (await ask(client, "c1")).choices[0].message.content == "два"


async def test_calls_are_isolated_whatever_carries_the_id(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script("by-header", [Reply.text("A1"), Reply.text("A2")])
    llm.script("by-metadata", [Reply.text("B1")])
    llm.script("by-user", [Reply.text("C1")])
    llm.script(ANONYMOUS, [Reply.text("D1")])
    llm.fail_next("by-metadata", status=500)

    async def by_metadata() -> str | None:
        response = await client.chat.completions.create(
            model=MODEL, messages=HELLO, metadata={"call_id": "by-metadata"}, store=True
        )
        return response.choices[0].message.content

    assert (await ask(client, "by-header")).choices[0].message.content == "A1"
    with pytest.raises(openai.InternalServerError):
        await by_metadata()
    user = await client.chat.completions.create(model=MODEL, messages=HELLO, user="by-user")
    assert user.choices[0].message.content == "C1"
    anonymous = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert anonymous.choices[0].message.content == "D1"
    assert (await ask(client, "by-header")).choices[0].message.content == "A2"
    assert await by_metadata() == "B1"

    assert llm.call_ids() == ["by-header", "by-metadata", "by-user", ANONYMOUS]
    llm.assert_consumed()


async def test_assert_consumed_reports_leftovers_and_overruns(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script("short", [Reply.text("Здравствуйте")])
    llm.script("long", [Reply.text("раз"), Reply.text("два")])
    await ask(client, "short")
    await ask(client, "long")

    past_the_end = await ask(client, "short")

    assert past_the_end.choices[0].message.content == DEFAULT_REPLY_TEXT
    assert llm.overruns("short") == 1 and len(llm.warnings) == 1
    assert llm.unconsumed("long") == [Reply.text("два")]
    with pytest.raises(AssertionError, match="1 requests after the script ended"):
        llm.assert_consumed("short")
    llm.assert_consumed("short", allow_default=True)
    with pytest.raises(AssertionError, match="1 scripted replies not served"):
        llm.assert_consumed()


async def test_no_default_makes_an_overrun_an_error() -> None:
    async with FakeLLM(default=None) as llm:
        async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="x", max_retries=3) as c:
            with pytest.raises(openai.InternalServerError, match="script used up"):
                await ask(c, "c1")
        assert len(llm.requests("c1")) == 1  # x-should-retry: false stopped the SDK's retries
        with pytest.raises(AssertionError, match="script used up"):
            llm.assert_consumed()


async def test_recorded_requests(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    llm.script("c1", [Reply.text("Да")])

    await ask(client, "c1", tools=[SEARCH])

    [request] = llm.requests("c1")
    assert request["model"] == MODEL
    assert offered_tools(request) == ["search_products"]
    assert last_user_text(request) == "Хочу гречку"
    assert "+7" not in json.dumps(request)
    assert llm.exchanges[0].headers[CALL_ID_HEADER] == "c1"


async def test_wait_requests(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    waiter = asyncio.create_task(llm.wait_requests("c1", 2))
    await ask(client, "c1")
    assert not waiter.done()
    await ask(client, "c1")
    async with asyncio.timeout(2):
        assert len(await waiter) == 2


async def test_a_script_calling_an_unoffered_tool_is_a_script_error(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script("c1", [Reply.tool("confirm_order"), Reply.tool("confirm_order", unoffered_ok=True)])

    with pytest.raises(openai.InternalServerError, match="not offered"):
        await ask(client, "c1")
    response = await ask(client, "c1")

    assert calls_of(response)[0].function.name == "confirm_order"
    with pytest.raises(AssertionError, match="not offered"):
        llm.assert_consumed()
    with pytest.raises(AssertionError, match="not offered"):
        llm.assert_consumed("c1")
    # The server is shared by a session's tests: another call's mistakes are not this one's.
    llm.script("c2", [Reply.text("Да.")])
    await ask(client, "c2")
    llm.assert_consumed("c2")


async def test_tool_choice_none_with_a_tool_script_is_a_script_error(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script("c1", [Reply.tool("search_products", {"query": "рис", "limit": 1})])
    with pytest.raises(openai.InternalServerError, match="tool_choice is 'none'"):
        await client.chat.completions.create(
            model=MODEL,
            messages=HELLO,
            tools=TOOLS,
            tool_choice="none",
            extra_headers=on_call("c1"),
        )


async def test_dynamic_reply_that_raises_is_reported(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script(
        "c1",
        [Reply.dynamic(lambda request: Reply.text(str(last_tool_result(request, "get_product"))))],
    )

    with pytest.raises(openai.InternalServerError, match="dynamic reply raised LookupError"):
        await ask(client, "c1")
    assert "no 'get_product' tool result" in llm.problems[0]


NOT_STRICT: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "search_products",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize(
    ("messages", "tools", "message"),
    [
        ([], TOOLS, "empty array"),
        (HELLO, [NOT_STRICT], "Missing 'limit'"),
        (
            [*HELLO, {"role": "tool", "tool_call_id": "call_x", "content": "{}"}],
            TOOLS,
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            [
                *HELLO,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_product", "arguments": "{}"},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_product", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
                {"role": "user", "content": "алло"},
            ],
            TOOLS,
            "did not have response messages: call_2",
        ),
        (
            [
                *HELLO,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_product", "arguments": {"product_id": "p"}},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
            ],
            TOOLS,
            "arguments': expected a string",
        ),
        ([{"role": "user", "content": {"text": "алло"}}], TOOLS, "expected one of a string"),
        ([{"role": "robot", "content": "алло"}], TOOLS, "Invalid value: 'robot'"),
    ],
)
async def test_malformed_requests_are_400(
    llm: FakeLLM,
    client: openai.AsyncOpenAI,
    messages: Any,
    tools: Any,
    message: str,
) -> None:
    llm.script("c1", [Reply.text("не дойдёт")])

    with pytest.raises(openai.BadRequestError, match=message) as caught:
        await ask(client, "c1", messages, tools)

    assert caught.value.type == "invalid_request_error"
    assert len(llm.unconsumed("c1")) == 1


async def test_metadata_without_store_is_400(llm: FakeLLM, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only allowed when 'store' is enabled"):
        await client.chat.completions.create(
            model=MODEL, messages=HELLO, metadata={"call_id": "c1"}
        )


async def test_garbage_body_and_unknown_url(llm: FakeLLM) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(f"{llm.base_url}/chat/completions", data=b"{not json") as response:
            assert response.status == 400
            assert "could not parse the JSON body" in (await response.json())["error"]["message"]
        async with http.post(f"{llm.base_url}/chat/completions", json={"model": MODEL}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == "messages"
        async with http.post(f"{llm.base_url}/nowhere", json={}) as response:
            assert response.status == 404
            assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_models() -> None:
    async with (
        FakeLLM(models=["gpt-4o-mini", "qwen"]) as llm,
        openai.AsyncOpenAI(base_url=llm.base_url, api_key="x", max_retries=0) as c,
    ):
        assert [m.id async for m in c.models.list()] == ["gpt-4o-mini", "qwen"]
        with pytest.raises(openai.NotFoundError):
            await c.chat.completions.create(model="gpt-5", messages=HELLO)


async def test_schemas_from_the_sdk_pydantic_helper_pass_the_strict_check(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    class Address(BaseModel):
        city: str
        street: str
        house: str
        apartment: str | None = None

    class UpdateOrderDelivery(BaseModel):
        type: Literal["courier", "pickup"]
        address: Address | None = None
        date: str | None = None

    class ConfirmOrder(BaseModel):
        pass

    tools = [
        openai.pydantic_function_tool(UpdateOrderDelivery, name="update_order_delivery"),
        openai.pydantic_function_tool(ConfirmOrder, name="confirm_order"),
    ]
    llm.script("c1", [Reply.tool("confirm_order")])

    assert calls_of(await ask(client, "c1", tools=tools))[0].function.arguments == "{}"


async def test_a_nested_object_without_additional_properties_false_is_400(
    llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    address = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tool: ChatCompletionFunctionToolParam = {
        "type": "function",
        "function": {
            "name": "update_order_delivery",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"address": address},
                "required": ["address"],
                "additionalProperties": False,
            },
        },
    }

    with pytest.raises(openai.BadRequestError, match=r"context=\('properties', 'address'\)"):
        await ask(client, "c1", tools=[tool])


# --- the fake speech service ----------------------------------------------------------------


@pytest.fixture
async def speech() -> AsyncIterator[FakeSpeech]:
    async with FakeSpeech(api_key=KEY, tone_hz=440) as server:
        yield server


@pytest.fixture
async def speech_client(speech: FakeSpeech) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=speech.base_url, api_key=KEY, max_retries=0) as c:
        yield c


async def test_transcriptions_follow_the_script_per_call(
    speech: FakeSpeech, speech_client: openai.AsyncOpenAI
) -> None:
    speech.script("c1", ["где мой заказ", "второй"])
    speech.script(ANONYMOUS, ["алло"])
    audio = to_wav(synthesize(0.5, None, 16_000), 16_000)

    async def transcribe(call_id: str | None) -> str:
        result = await speech_client.audio.transcriptions.create(
            model="whisper-1",
            file=("turn.wav", audio, "audio/wav"),
            language="ru",
            extra_headers=on_call(call_id) if call_id else None,
        )
        return result.text

    assert await transcribe("c1") == "где мой заказ"
    assert await transcribe(None) == "алло"
    assert await transcribe("c1") == "второй"
    speech.assert_consumed()

    first = speech.transcriptions[0]
    assert (first.call_id, first.model, first.language, first.filename) == (
        "c1",
        "whisper-1",
        "ru",
        "turn.wav",
    )
    assert first.audio == audio
    verbose = await speech_client.audio.transcriptions.create(
        model="whisper-1", file=("turn.wav", audio), response_format="verbose_json"
    )
    assert verbose.text == "" and verbose.duration == pytest.approx(0.5)
    with pytest.raises(AssertionError, match="after the script ended"):
        speech.assert_consumed()


async def test_speech_is_a_wav_as_long_as_the_text(
    speech: FakeSpeech, speech_client: openai.AsyncOpenAI
) -> None:
    async def seconds(text: str, speed: float = 1.0) -> float:
        response = await speech_client.audio.speech.create(
            model="tts-1", voice="alloy", input=text, response_format="wav", speed=speed
        )
        with wave.open(io.BytesIO(response.content), "rb") as audio:
            assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
            assert audio.getframerate() == SPEECH_SAMPLE_RATE
            assert max(audio.readframes(audio.getnframes())) > 0  # a tone, not silence
            return audio.getnframes() / audio.getframerate()

    short = await seconds("Да.")
    long = await seconds("Ваш заказ сто два ноль сорок пять уже в пути.")

    assert 0 < short < long
    assert await seconds("Да.", speed=2.0) == pytest.approx(short / 2, abs=0.01)
    pcm = await speech_client.audio.speech.create(
        model="tts-1", voice="alloy", input="Да.", response_format="pcm"
    )
    assert len(pcm.content) == 2 * round(short * SPEECH_SAMPLE_RATE)
    assert speech.speeches[0].body["input"] == "Да."


async def test_speech_refuses_mp3_and_fails_on_demand(
    speech: FakeSpeech, speech_client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.BadRequestError, match="only wav and pcm"):
        await speech_client.audio.speech.create(model="tts-1", voice="alloy", input="Да.")

    speech.fail_next(status=503)
    with pytest.raises(openai.InternalServerError):
        await speech_client.audio.speech.create(
            model="tts-1", voice="alloy", input="Да.", response_format="wav"
        )

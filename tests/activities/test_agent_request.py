"""The agent turn's request on the wire: the same as `chat.completions.create` would send.

The activity posts its body through the SDK's client without `create`'s typed-dict pass
(see `activities.agent._chat_request`); the fake LLM, a real OpenAI-protocol server, records
both requests, which must not differ in body or headers.
"""

from __future__ import annotations

import openai
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.agent import CALL_ID_HEADER, TEMPERATURE, OpenAiAgentActivities
from activities.interfaces.agent import AgentRequest
from core.settings import Settings
from core.vocabulary import ErrorType, ToolName
from prompts.tools import openai_tools
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.servers import free_port

MESSAGES = [
    {"role": "system", "content": "Вы — оператор магазина."},
    {"role": "assistant", "content": "Здравствуйте! Чем могу помочь?"},
    {"role": "user", "content": "Есть гречка?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search_products", "arguments": '{"query": "гречка"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"items": []}'},
]


async def test_the_agent_turn_sends_what_create_would_send() -> None:
    async with FakeLLM(api_key="secret") as llm:
        settings = Settings(
            _env_file=None, openai_base_url=llm.base_url, openai_api_key="secret", llm_model="m"
        )
        llm.script("call-a", [Reply.tool("search_products", {"query": "рис"})])
        llm.script("call-b", [Reply.text("Нет.")])
        tools = [ToolName.SEARCH_PRODUCTS, ToolName.END_CALL]
        agent = OpenAiAgentActivities(settings)
        try:
            reply = await ActivityEnvironment().run(
                agent.agent_turn, AgentRequest(call_id="call-a", messages=MESSAGES, tools=tools)
            )
        finally:
            await agent.aclose()
        assert [(c.name, c.arguments) for c in reply.tool_calls] == [
            ("search_products", '{"query": "рис"}')
        ]

        async with openai.AsyncOpenAI(
            base_url=llm.base_url,
            api_key="secret",
            timeout=15.0,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        ) as sdk:
            await sdk.chat.completions.create(
                model="m",
                messages=MESSAGES,  # type: ignore[arg-type]
                tools=openai_tools(tools),  # type: ignore[arg-type]
                temperature=TEMPERATURE,
                extra_headers={CALL_ID_HEADER: "call-b"},
                user="call-b",
            )
        ours, theirs = llm.exchanges
        assert ours.body == {**theirs.body, "user": "call-a"}
        assert list(ours.body) == list(theirs.body), "the same fields in the same order"
        assert ours.body["tools"][0]["function"]["strict"] is True

        def named(headers: dict[str, str]) -> dict[str, str]:
            return {name.lower(): value for name, value in headers.items()}

        # The call ids are as long as each other: even Content-Length must agree.
        assert named(ours.headers) == {**named(theirs.headers), "x-call-id": "call-a"}
        assert named(ours.headers)["authorization"] == "Bearer secret"


async def test_an_agent_turn_without_tools_offers_none() -> None:
    async with FakeLLM() as llm:
        settings = Settings(_env_file=None, openai_base_url=llm.base_url, openai_api_key="k")
        llm.script("call-c", [Reply.text("Да.")])
        agent = OpenAiAgentActivities(settings)
        try:
            reply = await ActivityEnvironment().run(
                agent.agent_turn, AgentRequest(call_id="call-c", messages=MESSAGES[:3], tools=[])
            )
        finally:
            await agent.aclose()
        assert reply.text == "Да." and reply.tool_calls == []
        assert "tools" not in llm.exchanges[0].body


async def test_an_unreachable_or_slow_model_is_an_outage() -> None:
    """Over aiohttp as over httpx: a refused connection and a timeout are `LlmUnavailable`
    (retryable, counted by the breaker), not some transport error the workflow cannot read."""
    request = AgentRequest(call_id="call-d", messages=MESSAGES[:3], tools=[])
    async with FakeLLM() as llm:
        closed = f"http://127.0.0.1:{free_port()}/v1"
        llm.set_latency(2.0)
        for base_url in (closed, llm.base_url):
            settings = Settings(_env_file=None, openai_base_url=base_url, openai_api_key="k")
            agent = OpenAiAgentActivities(settings, timeout_s=0.3)
            try:
                with pytest.raises(ApplicationError) as failed:
                    await ActivityEnvironment().run(agent.agent_turn, request)
            finally:
                await agent.aclose()
            assert failed.value.type == ErrorType.LLM_UNAVAILABLE, base_url
            assert not failed.value.non_retryable

"""The agent turn's request on the wire: the same as `chat.completions.create` would send.

The activity posts its body through the SDK's client without `create`'s typed-dict pass
(see `activities.agent._chat_request`); the fake LLM, a real OpenAI-protocol server, records
both requests, which must not differ in body or headers.
"""

from __future__ import annotations

import openai
from temporalio.testing import ActivityEnvironment

from activities.agent import CALL_ID_HEADER, TEMPERATURE, OpenAiAgentActivities
from activities.interfaces.agent import AgentRequest
from core.settings import Settings
from core.vocabulary import ToolName
from prompts.tools import openai_tools
from tests.support.fake_llm import FakeLLM, Reply

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
        reply = await ActivityEnvironment().run(
            agent.agent_turn, AgentRequest(call_id="call-a", messages=MESSAGES, tools=tools)
        )
        assert [(c.name, c.arguments) for c in reply.tool_calls] == [
            ("search_products", '{"query": "рис"}')
        ]

        async with openai.AsyncOpenAI(
            base_url=llm.base_url, api_key="secret", timeout=15.0, max_retries=0
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

        # The call ids are as long as each other: even Content-Length must agree.
        assert ours.headers == {**theirs.headers, CALL_ID_HEADER: "call-a"}
        assert ours.headers["Authorization"] == "Bearer secret"


async def test_an_agent_turn_without_tools_offers_none() -> None:
    async with FakeLLM() as llm:
        settings = Settings(_env_file=None, openai_base_url=llm.base_url, openai_api_key="k")
        llm.script("call-c", [Reply.text("Да.")])
        reply = await ActivityEnvironment().run(
            OpenAiAgentActivities(settings).agent_turn,
            AgentRequest(call_id="call-c", messages=MESSAGES[:3], tools=[]),
        )
        assert reply.text == "Да." and reply.tool_calls == []
        assert "tools" not in llm.exchanges[0].body

"""Choosing the worker → edge channel for streamed replies (issue 11), by measurement.

Every candidate runs for real on free ports (PostgreSQL, the Temporal dev server, aiohttp
servers, loopback sockets), all in this process except the servers themselves:

- `queue`: an asyncio.Queue hop in one process - the floor of any hand-over;
- `tcp`: one line over a loopback TCP connection - the floor of any socket channel;
- `http`: POST to an aiohttp endpoint of the "edge" over a keep-alive connection;
- `websocket`: a message on one worker → edge WebSocket;
- `pg_notify`: `SELECT pg_notify(…)`, received by an asyncpg LISTEN connection;
- `pg_insert_notify`: the sentence INSERTed (a durable prefix to read back) and NOTIFYed in
  one statement;
- `workflow_streams`: temporalio.contrib.workflow_streams, published from a client with
  force_flush, subscribed with poll_cooldown=0 (its best case; the default is 100 ms);
- `edge_endpoint`: the chosen channel as built (audiosocket/activities reply_stream).

Measured: publish → receive of one sentence (one stream, then several concurrent ones), the
publisher's own wait for the ack, and inside a real activity started by a real workflow
update: update sent → first sentence received at the "edge", next to an update whose
activity publishes nothing. Numbers are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bench.stream_workflow import SpeakTurn, StreamTurnWorkflow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
TASK_QUEUE = "bench-stream"
SENTENCE = "Гречка ядрица, девятьсот грамм, стоит сто двенадцать рублей."
# (index, sent_at, received_at), perf_counter seconds; received_at is taken where the
# subscriber side first holds the message.
Delivery = tuple[int, float, float]


def _now() -> float:
    return time.perf_counter()


def stats(samples_s: list[float]) -> dict[str, float]:
    if not samples_s:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(s * 1000 for s in samples_s)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)

    return {"n": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": at(1.0)}


class Channel(Protocol):
    name: str

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]: ...

    async def unsubscribe(self, stream: str) -> None: ...

    async def publish(self, stream: str, index: int, sent_at: float) -> None: ...


@runtime_checkable
class Startable(Protocol):
    async def start(self) -> None: ...


def _message(stream: str, index: int, sent_at: float) -> dict[str, Any]:
    return {"stream": stream, "index": index, "sent_at": sent_at, "text": SENTENCE}


class _Inboxes:
    """Per-stream inboxes on the subscriber side."""

    def __init__(self) -> None:
        self.by_stream: dict[str, asyncio.Queue[Delivery]] = {}

    def open(self, stream: str) -> asyncio.Queue[Delivery]:
        inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self.by_stream[stream] = inbox
        return inbox

    def deliver(self, message: dict[str, Any]) -> None:
        received = _now()
        inbox = self.by_stream.get(message["stream"])
        if inbox is not None:
            inbox.put_nowait((message["index"], message["sent_at"], received))


# --- baselines -------------------------------------------------------------------------------


class QueueChannel:
    name = "queue"

    def __init__(self) -> None:
        self._inboxes = _Inboxes()

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        return self._inboxes.open(stream)

    async def unsubscribe(self, stream: str) -> None:
        self._inboxes.by_stream.pop(stream, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        self._inboxes.deliver(_message(stream, index, sent_at))


class TcpChannel:
    """Newline-delimited JSON over one loopback connection (the socket floor)."""

    name = "tcp"

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._inboxes = _Inboxes()
        self._writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                self._inboxes.deliver(json.loads(line))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, self._writer = await asyncio.open_connection("127.0.0.1", port)
        writer = self._writer

        async def close() -> None:
            writer.close()
            server.close()
            await server.wait_closed()

        self._stack.push_async_callback(close)

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        return self._inboxes.open(stream)

    async def unsubscribe(self, stream: str) -> None:
        self._inboxes.by_stream.pop(stream, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        assert self._writer is not None
        self._writer.write(json.dumps(_message(stream, index, sent_at)).encode() + b"\n")
        await self._writer.drain()


# --- an endpoint of the edge -----------------------------------------------------------------


class HttpChannel:
    """The edge runs an aiohttp endpoint; the worker POSTs each sentence (keep-alive)."""

    name = "http"

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._inboxes = _Inboxes()
        self.url = ""
        self._session: Any = None

    async def start(self) -> None:
        import aiohttp
        from aiohttp import web

        async def sentence(request: web.Request) -> web.Response:
            self._inboxes.deliver(await request.json())
            return web.json_response({"accepted": True})

        app = web.Application()
        app.router.add_post("/sentence", sentence)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/sentence"
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=1.0),
            connector=aiohttp.TCPConnector(limit=0),
        )
        self._stack.push_async_callback(runner.cleanup)
        self._stack.push_async_callback(self._session.close)

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        return self._inboxes.open(stream)

    async def unsubscribe(self, stream: str) -> None:
        self._inboxes.by_stream.pop(stream, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        async with self._session.post(self.url, json=_message(stream, index, sent_at)) as resp:
            await resp.read()


class WebSocketChannel:
    """One WebSocket from the worker to the edge, streams multiplexed by id."""

    name = "websocket"

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._inboxes = _Inboxes()
        self._ws: Any = None

    async def start(self) -> None:
        import aiohttp
        from aiohttp import web

        async def socket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._inboxes.deliver(json.loads(message.data))
            return ws

        app = web.Application()
        app.router.add_get("/ws", socket)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        session = aiohttp.ClientSession()
        self._ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
        self._stack.push_async_callback(runner.cleanup)
        self._stack.push_async_callback(session.close)
        self._stack.push_async_callback(self._ws.close)

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        return self._inboxes.open(stream)

    async def unsubscribe(self, stream: str) -> None:
        self._inboxes.by_stream.pop(stream, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        await self._ws.send_str(json.dumps(_message(stream, index, sent_at)))


# --- PostgreSQL LISTEN/NOTIFY ----------------------------------------------------------------


class PgNotifyChannel:
    """NOTIFY on a per-stream channel; the edge LISTENs on one connection.

    With `durable`, the sentence is also INSERTed in the same statement (one transaction), so
    a retried attempt could read the published prefix back - NOTIFY alone keeps nothing.
    """

    def __init__(self, stack: AsyncExitStack, database_url: str, *, durable: bool) -> None:
        self.name = "pg_insert_notify" if durable else "pg_notify"
        self._stack = stack
        self._url = database_url
        self._durable = durable
        self._inboxes = _Inboxes()
        self._pool: Any = None
        self._listener: Any = None
        self._callbacks: dict[str, Any] = {}
        self._listen_lock = asyncio.Lock()  # one asyncpg connection runs one command at a time

    async def start(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self._url, min_size=2, max_size=16)
        self._listener = await asyncpg.connect(self._url)
        await self._listener.execute(
            "CREATE TABLE IF NOT EXISTS bench_reply_sentence ("
            " stream text NOT NULL, idx int NOT NULL, text text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (stream, idx))"
        )
        self._stack.push_async_callback(self._pool.close)
        self._stack.push_async_callback(self._listener.close)

    @staticmethod
    def _pg_channel(stream: str) -> str:
        return "rs_" + stream.replace("-", "")[:48]

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        inbox = self._inboxes.open(stream)

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            self._inboxes.deliver(json.loads(payload))

        self._callbacks[stream] = on_notify
        async with self._listen_lock:
            await self._listener.add_listener(self._pg_channel(stream), on_notify)
        return inbox

    async def unsubscribe(self, stream: str) -> None:
        callback = self._callbacks.pop(stream, None)
        if callback is not None:
            async with self._listen_lock:
                await self._listener.remove_listener(self._pg_channel(stream), callback)
        self._inboxes.by_stream.pop(stream, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        payload = json.dumps(_message(stream, index, sent_at))
        async with self._pool.acquire() as conn:
            if self._durable:
                await conn.execute(
                    "WITH row AS (INSERT INTO bench_reply_sentence (stream, idx, text)"
                    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING idx)"
                    " SELECT pg_notify($4, $5) FROM row",
                    stream,
                    index,
                    SENTENCE,
                    self._pg_channel(stream),
                    payload,
                )
            else:
                await conn.execute("SELECT pg_notify($1, $2)", self._pg_channel(stream), payload)


# --- temporalio.contrib.workflow_streams -----------------------------------------------------


class WorkflowStreamsChannel:
    """A stream hosted in the turn's workflow: signals publish, update long-polls subscribe.

    A stream id is the id of a running StreamTurnWorkflow.
    """

    name = "workflow_streams"

    def __init__(self, stack: AsyncExitStack, client: Any) -> None:
        self._stack = stack
        self._client = client
        self._subscribers: dict[str, asyncio.Task[None]] = {}
        self._publishers: dict[str, Any] = {}

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        from temporalio.contrib.workflow_streams import WorkflowStreamClient

        inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        reader = WorkflowStreamClient.create(self._client, stream)
        # A turn's subscriber starts where the call's stream is now, as the edge would.
        offset = await reader.get_offset()

        async def read() -> None:
            async for item in reader.subscribe("reply", offset, poll_cooldown=_ZERO):
                received = _now()
                inbox.put_nowait((item.data["index"], item.data["sent_at"], received))

        self._subscribers[stream] = asyncio.create_task(read())
        return inbox

    async def unsubscribe(self, stream: str) -> None:
        task = self._subscribers.pop(stream, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        publisher = self._publishers.pop(stream, None)
        if publisher is not None:
            await publisher.__aexit__(None, None, None)

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        from temporalio.contrib.workflow_streams import WorkflowStreamClient

        publisher = self._publishers.get(stream)
        if publisher is None:
            publisher = WorkflowStreamClient.create(self._client, stream)
            await publisher.__aenter__()
            self._publishers[stream] = publisher
        publisher.topic("reply").publish(_message(stream, index, sent_at), force_flush=True)

    async def publish_from_activity(self, index: int, sent_at: float) -> None:
        """As an activity of the hosting workflow does it: a client per attempt."""
        from temporalio import activity
        from temporalio.contrib.workflow_streams import WorkflowStreamClient

        stream = activity.info().workflow_id or ""
        async with WorkflowStreamClient.from_within_activity() as publisher:
            publisher.topic("reply").publish(_message(stream, index, sent_at), force_flush=True)


_ZERO: Any = None  # timedelta(0), set in run() (keeps the import local like the others)


# --- the chosen channel, as built ------------------------------------------------------------


class EdgeEndpointChannel:
    """audiosocket.reply_stream.ReplyStreamServer + activities.reply_stream.ReplyPublisher."""

    name = "edge_endpoint"

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self.server: Any = None
        self.publisher: Any = None
        self._subs: dict[str, Any] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._turns: dict[str, Any] = {}

    async def start(self) -> None:
        from activities.reply_stream import ReplyPublisher
        from audiosocket.reply_stream import ReplyStreamServer

        secret = uuid.uuid4().hex
        self.server = await self._stack.enter_async_context(
            ReplyStreamServer(secret, host="127.0.0.1", port=0)
        )
        self.publisher = await self._stack.enter_async_context(ReplyPublisher(secret))

    async def subscribe(self, stream: str) -> asyncio.Queue[Delivery]:
        inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        sub = self.server.subscribe(call_id="call-" + stream, turn_key=stream)
        self._subs[stream] = sub

        async def read() -> None:
            index = 0
            async for text in sub:
                received = _now()
                inbox.put_nowait((index, float(text.rsplit(" ", 1)[1]), received))
                index += 1

        self._readers[stream] = asyncio.create_task(read())
        return inbox

    async def unsubscribe(self, stream: str) -> None:
        sub = self._subs.pop(stream, None)
        if sub is not None:
            sub.close()
        task = self._readers.pop(stream, None)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        turn = self._turns.pop(stream, None)
        if turn is not None:
            await turn.finish()

    def target(self, stream: str) -> Any:
        return self._subs[stream].target

    async def publish(self, stream: str, index: int, sent_at: float) -> None:
        turn = self._turns.get(stream)
        if turn is None:
            turn = await self.publisher.open(self.target(stream), attempt=1)
            self._turns[stream] = turn
        turn.publish(f"{SENTENCE} {sent_at!r}")
        # The library sends in the background; wait like the others do for their send.
        await turn.flush()

    async def publish_from_activity(self, target: Any, sent_at: float) -> None:
        from temporalio import activity

        turn = await self.publisher.open(target, attempt=activity.info().attempt)
        turn.publish(f"{SENTENCE} {sent_at!r}")
        await turn.finish()


# --- measurement -----------------------------------------------------------------------------


@dataclass
class ChannelResult:
    one_stream: dict[str, float] = field(default_factory=dict)
    concurrent: dict[str, float] = field(default_factory=dict)
    publisher_wait: dict[str, float] = field(default_factory=dict)
    activity_first_sentence: dict[str, float] = field(default_factory=dict)
    activity_hop: dict[str, float] = field(default_factory=dict)
    history_events_per_sentence: float | None = None


async def _stream_run(
    channel: Channel, stream: str, n: int, gap_s: float
) -> tuple[list[float], list[float]]:
    """Publish n sentences one after another; (publish → receive, publisher's wait)."""
    inbox = await channel.subscribe(stream)
    hops: list[float] = []
    waits: list[float] = []
    try:
        for index in range(n):
            sent = _now()
            await channel.publish(stream, index, sent)
            waits.append(_now() - sent)
            got, sent_at, received = await asyncio.wait_for(inbox.get(), 30)
            if got != index:
                raise RuntimeError(f"{channel.name}: got sentence {got}, expected {index}")
            hops.append(received - sent_at)
            await asyncio.sleep(gap_s)
    finally:
        await channel.unsubscribe(stream)
    return hops, waits


@asynccontextmanager
async def _hosting_workflows(client: Any, count: int) -> AsyncIterator[list[Any]]:
    handles = [
        await client.start_workflow(
            StreamTurnWorkflow.run, id=f"bench-stream-{uuid.uuid4().hex}", task_queue=TASK_QUEUE
        )
        for _ in range(count)
    ]
    try:
        yield handles
    finally:
        for handle in handles:
            await handle.signal(StreamTurnWorkflow.finish)
        for handle in handles:
            await handle.result()


async def _measure_streams(
    channel: Channel, client: Any, result: ChannelResult, n: int, streams: int, gap_s: float
) -> None:
    hosted = isinstance(channel, WorkflowStreamsChannel)
    count = 2 + streams  # warm-up, one stream, concurrent streams: each its own stream
    async with _hosting_workflows(client, count if hosted else 0) as handles:
        ids = [h.id for h in handles] if hosted else [uuid.uuid4().hex for _ in range(count)]
        await _stream_run(channel, ids[0], min(20, n), gap_s)
        hops, waits = await _stream_run(channel, ids[1], n, gap_s)
        result.one_stream, result.publisher_wait = stats(hops), stats(waits)
        if hosted:
            # Every publish is a signal and every poll an update: both land in the call's
            # history, which the CallWorkflow must keep small (continue-as-new).
            events = [e async for e in handles[1].fetch_history_events()]
            result.history_events_per_sentence = round(len(events) / n, 2)
        per_stream = max(1, n // streams)
        concurrent = await asyncio.gather(
            *(_stream_run(channel, stream, per_stream, gap_s) for stream in ids[2:])
        )
        result.concurrent = stats([hop for hops, _ in concurrent for hop in hops])


async def _measure_activity(
    channel: Channel | None, client: Any, result: ChannelResult, turns: int
) -> None:
    """Update sent → first sentence received, the publisher being a real activity."""
    name = channel.name if channel is not None else "none"
    firsts: list[float] = []
    hops: list[float] = []
    round_trips: list[float] = []
    async with _hosting_workflows(client, 1) as (handle,):
        for turn in range(turns + 5):
            stream = handle.id if isinstance(channel, WorkflowStreamsChannel) else uuid.uuid4().hex
            inbox = await channel.subscribe(stream) if channel is not None else None
            url = ""
            if isinstance(channel, EdgeEndpointChannel):
                url = channel.target(stream).model_dump_json()
            started = _now()
            await handle.execute_update(
                StreamTurnWorkflow.turn, SpeakTurn(name, stream, 1 if channel else 0, url)
            )
            done = _now()
            if inbox is not None and channel is not None:
                _, sent_at, received = await asyncio.wait_for(inbox.get(), 30)
                await channel.unsubscribe(stream)
                if turn >= 5:  # the first turns warm up
                    firsts.append(received - started)
                    hops.append(received - sent_at)
            if turn >= 5:
                round_trips.append(done - started)
    if channel is None:
        result.activity_first_sentence = stats(round_trips)
    else:
        result.activity_first_sentence, result.activity_hop = stats(firsts), stats(hops)


def _speak_activity(channels: dict[str, Channel]) -> Any:
    from temporalio import activity

    @activity.defn(name="bench_speak")
    async def speak(request: SpeakTurn) -> int:
        if request.sentences == 0:
            return 0
        channel = channels[request.channel]
        sent_at = _now()
        if isinstance(channel, WorkflowStreamsChannel):
            await channel.publish_from_activity(0, sent_at)
        elif isinstance(channel, EdgeEndpointChannel):
            from core.reply_stream import StreamTarget

            target = StreamTarget.model_validate_json(request.url)
            await channel.publish_from_activity(target, sent_at)
        else:
            await channel.publish(request.stream, 0, sent_at)
        return 1

    return speak


async def run(
    sentences: int, streams: int, turns: int, gap_ms: float, only: frozenset[str] = frozenset()
) -> dict[str, Any]:
    global _ZERO
    sys.path.insert(0, str(PROJECT_ROOT))
    import tempfile
    from datetime import timedelta

    from temporalio.worker import Worker

    from tests.support.servers import postgres_database
    from tests.support.temporal import temporal_dev_server

    _ZERO = timedelta(0)
    gap_s = gap_ms / 1000
    results: dict[str, ChannelResult] = {}
    with tempfile.TemporaryDirectory(prefix="vo-bench-stream-") as tmp:
        async with (
            postgres_database(Path(tmp)) as database_url,
            temporal_dev_server() as env,
            AsyncExitStack() as stack,
        ):
            tcp, http, ws = TcpChannel(stack), HttpChannel(stack), WebSocketChannel(stack)
            notify = PgNotifyChannel(stack, database_url, durable=False)
            insert_notify = PgNotifyChannel(stack, database_url, durable=True)
            endpoint = EdgeEndpointChannel(stack)
            channels: list[Channel] = [
                QueueChannel(),
                tcp,
                http,
                ws,
                notify,
                insert_notify,
                WorkflowStreamsChannel(stack, env.client),
                endpoint,
            ]
            channels = [c for c in channels if not only or c.name in only]
            for channel in channels:
                if isinstance(channel, Startable):
                    await channel.start()
            by_name = {c.name: c for c in channels}
            worker = Worker(
                env.client,
                task_queue=TASK_QUEUE,
                workflows=[StreamTurnWorkflow],
                activities=[_speak_activity(by_name)],
            )
            async with worker:
                floor = ChannelResult()
                await _measure_activity(None, env.client, floor, turns)
                results["none"] = floor
                for channel in channels:
                    print(f"  measuring {channel.name}…", file=sys.stderr, flush=True)
                    result = ChannelResult()
                    await _measure_streams(channel, env.client, result, sentences, streams, gap_s)
                    await _measure_activity(channel, env.client, result, turns)
                    results[channel.name] = result
    return {
        "benchmark": "stream channel (issue 11)",
        "machine": f"{platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}",
        "sentences": sentences,
        "concurrent_streams": streams,
        "turns": turns,
        "gap_ms": gap_ms,
        "channels": {name: vars(result) for name, result in results.items()},
    }


def markdown(result: dict[str, Any]) -> str:
    def cell(s: dict[str, float], *keys: str) -> str:
        return " / ".join(f"{s[k]:.2f}" for k in keys) if s.get("n") else "–"

    lines = [
        f"{result['sentences']} sentences on one stream, then on {result['concurrent_streams']}"
        f" concurrent streams; {result['turns']} activity turns; ms",
        "",
        "| channel | 1 stream p50 / p95 / max | "
        f"{result['concurrent_streams']} streams p50 / p95 / max | publisher waits p50 / p95 | "
        "update → 1st sentence p50 / p95 | in activity: publish → receive p50 / p95 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["channels"].items():
        label = "no stream (update round trip)" if name == "none" else name
        lines.append(
            f"| {label} | {cell(r['one_stream'], 'p50_ms', 'p95_ms', 'max_ms')} "
            f"| {cell(r['concurrent'], 'p50_ms', 'p95_ms', 'max_ms')} "
            f"| {cell(r['publisher_wait'], 'p50_ms', 'p95_ms')} "
            f"| {cell(r['activity_first_sentence'], 'p50_ms', 'p95_ms')} "
            f"| {cell(r['activity_hop'], 'p50_ms', 'p95_ms')} |"
        )
    for name, r in result["channels"].items():
        if r.get("history_events_per_sentence") is not None:
            lines.append(
                f"\n{name}: {r['history_events_per_sentence']} workflow history events per "
                "sentence (signal + poll update + workflow tasks)"
            )
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "stream_channel.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path

"""`voiceorder call`: play a scripted caller into a running edge over real AudioSocket.

Dialplan path (default): connect to the edge's AudioSocket port with a fresh UUID, as
`AudioSocket(<uuid>,host:port)` in the dialplan would. ARI path (`--ari`): serve a fake
Asterisk ARI, wait for the edge to subscribe, place a call with a CallerID, and let the edge
open the AudioSocket leg through `externalMedia` — the leg is our AudioSocketPeer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from audiosocket.simulator.caller import (
    DEFAULT_REPLY_TIMEOUT_S,
    CallerActions,
    CallReport,
    CallRunner,
    PhraseBook,
    Timeline,
    Voice,
    summary_lines,
)
from audiosocket.simulator.fake_ari import FakeAri, FakeChannel
from audiosocket.simulator.line_echo import LineEcho
from audiosocket.simulator.peer import (
    DEFAULT_JOIN_MS,
    DEFAULT_QUIET_MS,
    AudioSocketPeer,
    EdgeUnreachable,
)
from audiosocket.simulator.script import ScriptError, Step, load_script
from core.settings import get_settings

DEFAULT_CALLER = "+79161234567"  # Анна Смирнова from the demo data
# The edge opens the AudioSocket leg within milliseconds of answering; seconds mean trouble.
LEG_TIMEOUT_S = 10.0
# After the caller hangs up over ARI, the edge must delete the media leg (Asterisk keeps it).
LEG_CLEANUP_TIMEOUT_S = 5.0
# AudioSocket media formats the simulator's voice can produce (espeak output rates).
FORMAT_RATES = {"slin": 8000, "slin16": 16000}


class CallFailed(click.ClickException):
    """A problem that stops the call from happening at all (exit status 1)."""


@dataclass(frozen=True)
class CallOptions:
    host: str
    port: int
    rate: int
    record: Path | None
    quiet_ms: int
    reply_timeout_s: float
    call_uuid: uuid.UUID | None = None  # dialplan path: the UUID to send (default: fresh)
    echo: LineEcho | None = None  # the line returns the bot's voice


async def run_dialplan_call(
    steps: list[Step], voice: Voice, options: CallOptions, echo: Callable[[str], None]
) -> tuple[CallReport, AudioSocketPeer]:
    call_id = options.call_uuid or uuid.uuid4()
    phrases = PhraseBook(voice, f"call-{call_id}")
    await _prepare(phrases, steps, options.rate)
    echo(
        f"calling {options.host}:{options.port} over AudioSocket (dialplan path), "
        f"call {call_id}, {options.rate // 1000} kHz"
    )
    peer = await AudioSocketPeer.connect(
        options.host, options.port, call_id, rate=options.rate, echo=options.echo
    )
    timeline = Timeline(peer.connected_at, echo)
    timeline.at(peer.connected_at, f"connected, UUID {call_id} sent")
    runner = CallRunner(
        peer,
        steps,
        phrases,
        timeline,
        quiet_ms=options.quiet_ms,
        reply_timeout_s=options.reply_timeout_s,
    )
    return await runner.run(), peer


@dataclass(frozen=True)
class AriOptions:
    user: str
    password: str
    app: str
    caller: str | None
    wait_for_edge_s: float
    port: int = 0  # where the fake ARI listens (0: a free port)


async def run_ari_call(
    steps: list[Step],
    voice: Voice,
    options: CallOptions,
    ari_options: AriOptions,
    echo: Callable[[str], None],
) -> tuple[CallReport, AudioSocketPeer]:
    loop = asyncio.get_running_loop()
    legs: asyncio.Queue[MediaLeg] = asyncio.Queue()

    async def open_leg(host: str, port: int, audiosocket_id: uuid.UUID, fmt: str) -> object:
        rate = FORMAT_RATES.get(fmt)
        if rate is None:
            raise OSError(f"the simulator speaks slin or slin16, not {fmt}")
        peer = await AudioSocketPeer.connect(
            host, port, audiosocket_id, rate=rate, echo=options.echo
        )
        leg = MediaLeg(peer)
        legs.put_nowait(leg)
        return leg  # FakeAri hangs it up when the edge deletes the channel

    ari = FakeAri(
        user=ari_options.user,
        password=ari_options.password,
        app=ari_options.app,
        media_connector=open_leg,
        port=ari_options.port,
    )
    try:
        await ari.start()
    except OSError as exc:
        await ari.close()
        raise CallFailed(
            f"cannot serve the fake ARI on 127.0.0.1:{ari_options.port}: {exc.strerror or exc}"
        ) from None
    try:
        echo(
            f"fake ARI at {ari.base_url}: start the edge with ARI_URL={ari.base_url} "
            f"ARI_USER={ari_options.user} ARI_PASSWORD={ari_options.password} "
            f"ARI_APP={ari_options.app}"
        )
        echo(f"waiting up to {ari_options.wait_for_edge_s:g} s for the edge to subscribe …")
        try:
            await ari.wait_for_subscriber(timeout=ari_options.wait_for_edge_s)
        except TimeoutError:
            raise CallFailed(
                f"no edge subscribed to the fake ARI (app {ari_options.app!r}) within "
                f"{ari_options.wait_for_edge_s:g} s; start `voiceorder edge` with "
                f"ARI_URL={ari.base_url}"
            ) from None
        call_id = f"ari-{uuid.uuid4()}"
        phrases = PhraseBook(voice, call_id)
        await _prepare(phrases, steps, options.rate)
        timeline = Timeline(loop.time(), echo)
        channel = await ari.place_call(ari_options.caller)
        who = ari_options.caller or "withheld"
        timeline.at(loop.time(), f"call placed: channel {channel.id}, CallerID {who}")
        try:
            leg = await asyncio.wait_for(legs.get(), LEG_TIMEOUT_S)
        except TimeoutError:
            raise CallFailed(
                f"the edge answered no externalMedia request within {LEG_TIMEOUT_S:g} s "
                "(is its AUDIOSOCKET_EXTERNAL_HOST reachable from here?)"
            ) from None
        peer = leg.peer
        timeline.at(
            peer.connected_at,
            f"edge opened the AudioSocket leg: UUID {peer.call_id}, {peer.rate // 1000} kHz",
        )
        await _prepare(phrases, steps, peer.rate)
        actions = CallerActions(
            press=lambda digit: _press_both(ari, channel, peer, digit),
            hang_up=lambda: _hang_up_over_ari(ari, channel, leg, timeline),
        )
        runner = CallRunner(
            peer,
            steps,
            phrases,
            timeline,
            actions=actions,
            observe=AriObserver(ari, channel, leg, timeline),
            quiet_ms=options.quiet_ms,
            reply_timeout_s=options.reply_timeout_s,
        )
        return await runner.run(), peer
    finally:
        await ari.close()


class MediaLeg:
    """The AudioSocket leg as FakeAri holds it: our peer, plus when Asterisk closed it because
    the edge deleted the media channel (that is not the caller hanging up)."""

    def __init__(self, peer: AudioSocketPeer) -> None:
        self.peer = peer
        self.caller_hung_up = False
        self.deleted_at: float | None = None

    @property
    def bot_hung_up(self) -> asyncio.Event:
        # FakeAri watches this to hang the media channel up when the edge sends 0x00.
        return self.peer.bot_hung_up

    async def hang_up(self) -> None:
        if not self.caller_hung_up and self.peer.connected:
            self.deleted_at = asyncio.get_running_loop().time()
        await self.peer.hang_up()


class AriObserver:
    """Notes on the timeline what the edge did to the call over ARI."""

    def __init__(
        self, ari: FakeAri, channel: FakeChannel, leg: MediaLeg, timeline: Timeline
    ) -> None:
        self.ari = ari
        self.channel = channel
        self.leg = leg
        self.timeline = timeline
        self._noted: set[str] = set()

    def __call__(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.channel.id in self.ari.deleted_channels and not self.leg.caller_hung_up:
            self._note("deleted", now, "edge hung up the caller's channel (ARI DELETE)")
        for channel_id, context in self.ari.continued:
            if channel_id == self.channel.id:
                self._note("continued", now, f"edge transferred the caller to context {context!r}")
        if self.leg.deleted_at is not None:
            self._note(
                "leg",
                self.leg.deleted_at,
                "edge deleted the AudioSocket channel; Asterisk closed the leg",
            )

    def _note(self, key: str, when: float, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self.timeline.at(when, text)


async def _press_both(
    ari: FakeAri, channel: FakeChannel, peer: AudioSocketPeer, digit: str
) -> None:
    # A real Asterisk reports the digit both in-band (0x03) and as ChannelDtmfReceived.
    await peer.send_dtmf(digit)
    if channel.id in ari.channels:
        await ari.press(channel.id, digit)


async def _hang_up_over_ari(
    ari: FakeAri, channel: FakeChannel, leg: MediaLeg, timeline: Timeline
) -> None:
    leg.caller_hung_up = True
    peer = leg.peer
    if channel.id in ari.channels:
        await ari.caller_hangs_up(channel.id)
    # Asterisk keeps the AudioSocket leg until the app deletes it; a clean edge does so.
    try:
        await asyncio.wait_for(peer.ended.wait(), LEG_CLEANUP_TIMEOUT_S)
    except TimeoutError:
        timeline.at(
            asyncio.get_running_loop().time(),
            f"(the edge left the AudioSocket leg up {LEG_CLEANUP_TIMEOUT_S:g} s after the "
            "caller hung up; closing it)",
        )
        await peer.hang_up()


async def _prepare(phrases: PhraseBook, steps: list[Step], rate: int) -> None:
    from audiosocket.speech import SpeechUnavailable

    try:
        await phrases.prepare(steps, rate)
    except (SpeechUnavailable, ValueError, OSError) as exc:
        raise CallFailed(f"cannot synthesise the caller's phrases: {exc}") from None


def report_and_record(
    report: CallReport, peer: AudioSocketPeer, record: Path | None, echo: Callable[[str], None]
) -> None:
    for line in summary_lines(report):
        echo(line)
    if record is not None:
        seconds = peer.to_wav(record)
        echo(f"bot audio: {record} ({seconds:.1f} s at {(peer.bot_rate or peer.rate)} Hz)")


@click.command("call")
@click.option(
    "--script",
    "script_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Call script: one caller phrase or #directive per line (see docs/simulator.md).",
)
@click.option("--host", help="Edge AudioSocket host (default: AUDIOSOCKET_HOST).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Edge AudioSocket port (default: AUDIOSOCKET_PORT).",
)
@click.option(
    "--rate",
    type=click.Choice(["8000", "16000"]),
    default="8000",
    show_default=True,
    help="Caller audio rate on the dialplan path: 8000 as the AudioSocket() app always sends, "
    "16000 as Dial(AudioSocket/…/c(slin16)) (ARI: the edge's externalMedia format decides).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write what the bot said to this WAV file.",
)
@click.option("--ari", is_flag=True, help="Call through a fake ARI (the edge must use its URL).")
@click.option(
    "--caller",
    default=DEFAULT_CALLER,
    show_default=True,
    help="CallerID for the ARI path.",
)
@click.option("--withheld", is_flag=True, help="ARI path: call with a withheld CallerID.")
@click.option(
    "--ari-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="ARI path: port of the fake ARI on 127.0.0.1 (0: a free one). A fixed port lets "
    "an edge already started with that ARI_URL (e.g. by `voiceorder up`) reconnect to it.",
)
@click.option(
    "--wait-for-edge",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="ARI path: seconds to wait for the edge to subscribe to the fake ARI.",
)
@click.option(
    "--quiet-ms",
    type=click.IntRange(DEFAULT_JOIN_MS + 100, 10_000),
    default=DEFAULT_QUIET_MS,
    show_default=True,
    help="The bot's reply counts as finished after this much quiet.",
)
@click.option(
    "--reply-timeout",
    type=click.FloatRange(min=0.5),
    default=DEFAULT_REPLY_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the bot to start or finish a reply before going on.",
)
@click.option("--voice", default="ru", show_default=True, help="espeak-ng voice of the caller.")
@click.option(
    "--echo-db",
    type=click.FloatRange(min=0),
    help="The line returns the bot's voice this many dB quieter (phones return it 10–35 dB "
    "down); the call then sends audio all the time, the caller's speech mixed in.",
)
@click.option(
    "--echo-delay-ms",
    type=click.IntRange(0, 2000),
    default=120,
    show_default=True,
    help="With --echo-db: how much later the echo comes back.",
)
@click.option(
    "--uuid",
    "call_uuid",
    type=click.UUID,
    help="Dialplan path: the AudioSocket UUID to send (default: a fresh one). The edge's "
    "call id is call-<uuid>, which lets tests script fakes for it.",
)
@click.pass_context
def call_command(
    ctx: click.Context,
    script_path: Path,
    host: str | None,
    port: int | None,
    rate: str,
    record: Path | None,
    ari: bool,
    caller: str,
    withheld: bool,
    ari_port: int,
    wait_for_edge: float,
    quiet_ms: int,
    reply_timeout: float,
    voice: str,
    echo_db: float | None,
    echo_delay_ms: int,
    call_uuid: uuid.UUID | None,
) -> None:
    """Play a scripted caller into a running edge over AudioSocket; print a timeline."""
    try:
        steps = load_script(script_path)
    except ScriptError as exc:
        raise click.UsageError(str(exc)) from None
    if not ari and withheld:
        raise click.UsageError("--withheld needs --ari (the dialplan path carries no CallerID)")
    if ari and call_uuid is not None:
        raise click.UsageError("--uuid is for the dialplan path (over ARI the edge picks it)")
    settings = get_settings()
    options = CallOptions(
        host=host or settings.audiosocket_host,
        port=port or settings.audiosocket_port,
        rate=int(rate),
        record=record,
        quiet_ms=quiet_ms,
        reply_timeout_s=reply_timeout,
        call_uuid=call_uuid,
        echo=None if echo_db is None else LineEcho(echo_db, echo_delay_ms),
    )
    # Imported here: the speech stack (numpy, soxr, VAD models) is heavy, and every other
    # `voiceorder` command would load it with the CLI otherwise.
    from audiosocket.speech import EspeakSynthesizer

    try:
        synthesizer = EspeakSynthesizer(voice=voice)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        if ari:
            ari_options = AriOptions(
                user=settings.ari_user or "asterisk",
                password=settings.ari_password or "asterisk",
                app=settings.ari_app,
                caller=None if withheld else caller,
                wait_for_edge_s=wait_for_edge,
                port=ari_port,
            )
            report, peer = asyncio.run(
                run_ari_call(steps, synthesizer, options, ari_options, click.echo)
            )
        else:
            report, peer = asyncio.run(run_dialplan_call(steps, synthesizer, options, click.echo))
    except EdgeUnreachable as exc:
        raise CallFailed(f"{exc} (is `voiceorder edge` running?)") from None
    except KeyboardInterrupt:
        click.echo("call interrupted", err=True)
        ctx.exit(130)
    report_and_record(report, peer, record, click.echo)
    if report.outcome.exit_code:
        click.echo(f"call did not complete the script: {report.outcome.value}", err=True)
    ctx.exit(report.outcome.exit_code)

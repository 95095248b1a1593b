"""Speech tools for developers: hear what the bot says, see what the edge hears.

    python -m audiosocket.speech say "Ваш заказ уже в пути." reply.wav --rate 8000
    python -m audiosocket.speech listen call.wav --save-dir utterances/

`listen` plays a WAV through the Endpointer as Asterisk would send it (20 ms frames in real
time, simulated) and prints when speech started and ended; use it on a recording of a real
line to see whether noise starts speech or words are cut.
"""

from __future__ import annotations

import wave
from pathlib import Path

import click

from audiosocket.speech.endpointer import (
    Endpointer,
    EndpointerEvent,
    SpeechEnded,
    SpeechStarted,
)
from audiosocket.speech.resample import SAMPLE_WIDTH, resample
from audiosocket.speech.stt import to_wav
from audiosocket.speech.tts_espeak import synthesize_to_pcm
from audiosocket.speech.vad import SUPPORTED_RATES

_FRAME_S = 0.02
_TICK_AFTER_S = 2.0  # of ticks after the file, so a last utterance ends


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Speech tools: espeak-ng synthesis and the edge's endpointing, offline."""


@main.command()
@click.argument("text")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rate", type=click.Choice(["8000", "16000"]), default="8000", show_default=True)
def say(text: str, out: Path, rate: str) -> None:
    """Speak TEXT with espeak-ng into the WAV file OUT (16-bit mono)."""
    pcm = synthesize_to_pcm(text, int(rate))
    out.write_bytes(to_wav(pcm, int(rate)))
    click.echo(f"{out}: {len(pcm) / SAMPLE_WIDTH / int(rate):.2f} s at {rate} Hz")


@main.command()
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--end-silence-ms", type=click.IntRange(50, 10_000), default=700, show_default=True)
def listen(recording: Path, save_dir: Path | None, end_silence_ms: int) -> None:
    """Run RECORDING (16-bit mono WAV) through the endpointer and print the utterances."""
    pcm, rate = _read_wav(recording)
    endpointer = Endpointer(rate, end_silence_ms=end_silence_ms)
    frame = round(_FRAME_S * rate) * SAMPLE_WIDTH
    now, events = 0.0, list[EndpointerEvent]()
    for start in range(0, len(pcm), frame):
        piece = pcm[start : start + frame]
        now += len(piece) / SAMPLE_WIDTH / rate
        events += endpointer.feed(piece, now)
    for _ in range(round(_TICK_AFTER_S / _FRAME_S)):
        now += _FRAME_S
        events += endpointer.tick(now)
    endpointer.close()
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for event in events:
        if isinstance(event, SpeechStarted):
            click.echo(f"{event.at:7.2f} s  speech started")
            continue
        if not isinstance(event, SpeechEnded):
            continue
        count += 1
        seconds = len(event.pcm) / SAMPLE_WIDTH / event.rate
        line = f"{event.at:7.2f} s  speech ended ({event.reason}): {seconds:.2f} s of audio"
        if save_dir is not None:
            path = save_dir / f"utterance-{count:03d}.wav"
            path.write_bytes(to_wav(event.pcm, event.rate))
            line += f" -> {path}"
        click.echo(line)
    click.echo(f"{count} utterance(s) in {len(pcm) / SAMPLE_WIDTH / rate:.2f} s of audio")


def _read_wav(path: Path) -> tuple[bytes, int]:
    try:
        with wave.open(str(path), "rb") as source:
            channels, width, rate = (
                source.getnchannels(),
                source.getsampwidth(),
                source.getframerate(),
            )
            pcm = source.readframes(source.getnframes())
    except (wave.Error, EOFError) as error:
        raise click.ClickException(f"{path} is not a PCM WAV file: {error}") from error
    if channels != 1 or width != SAMPLE_WIDTH:
        raise click.ClickException(
            f"{path} has {channels} channel(s) of {8 * width}-bit audio; "
            "the edge hears 16-bit mono (sox in.wav -c 1 -b 16 out.wav)"
        )
    if rate not in SUPPORTED_RATES:
        pcm, rate = resample(pcm, rate, 16000), 16000
    return pcm, rate


if __name__ == "__main__":
    main()

"""Offline Russian text-to-speech with espeak-ng (library and voice data ship in the
`espeakng-loader` wheel; nothing is downloaded).

espeak-ng keeps global state, so there is one engine per process behind a lock. Synthesis is
fast (about 2000× real time measured), so each sentence is synthesized whole in a worker
thread (the event loop never blocks) and played while the next is made.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import AsyncGenerator
from typing import Final

import espeakng_loader  # type: ignore[import-untyped]

from audiosocket.speech.base import check_output_rate
from audiosocket.speech.errors import SpeechUnavailable
from audiosocket.speech.resample import StreamResampler
from audiosocket.speech.text import split_sentences

ESPEAK_RATE: Final = 22_050  # espeak-ng's native output rate (checked at initialisation)
DEFAULT_VOICE: Final = "ru"
DEFAULT_WORDS_PER_MINUTE: Final = 165  # espeak's default 175 is hurried on a phone line

_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
# Without this flag espeak_Initialize calls exit(1) when its data is missing: the whole edge
# would vanish with every call on it.
_INITIALIZE_DONT_EXIT: Final = 0x8000
_BUFFER_MS: Final = 100  # audio per synth callback
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_PARAM_RATE: Final = 1
_EE_OK: Final = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """The process-wide espeak-ng instance. Use `engine()`; call `speak` from any thread."""

    def __init__(self) -> None:
        library_path = espeakng_loader.get_library_path()
        try:
            data_path = espeakng_loader.get_data_path()
            self._lib = ctypes.CDLL(library_path)
        except (OSError, RuntimeError) as error:
            raise SpeechUnavailable(f"espeak-ng could not be loaded: {error}") from error
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate != ESPEAK_RATE:
            raise SpeechUnavailable(
                f"espeak-ng did not initialise with its data at {data_path} (answered {rate})"
            )
        # ctypes must keep the callback object alive as long as espeak may call it
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._voice: str | None = None
        self._words_per_minute: int | None = None

    def speak(self, text: str, voice: str, words_per_minute: int) -> list[bytes]:
        """The whole text as 22 050 Hz int16 chunks (blocking; run it in a worker thread)."""
        encoded = text.encode("utf-8")
        with self._lock:
            self._configure(voice, words_per_minute)
            self._chunks = []
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise SpeechUnavailable(f"espeak-ng failed to synthesize (status {status})")
        return chunks

    def prepare(self, voice: str, words_per_minute: int) -> None:
        """Select the voice now: an unknown one raises here rather than mid-call."""
        with self._lock:
            self._configure(voice, words_per_minute)

    def _configure(self, voice: str, words_per_minute: int) -> None:
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise SpeechUnavailable(f"espeak-ng has no voice {voice!r}")
            self._voice = voice
            self._words_per_minute = None  # a new voice resets the rate
        if words_per_minute != self._words_per_minute:
            self._lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
            self._words_per_minute = words_per_minute

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if count > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0  # go on


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


class EspeakSynthesizer:
    """espeak-ng Russian, resampled to the call's rate, one sentence at a time."""

    def __init__(
        self, *, voice: str = DEFAULT_VOICE, words_per_minute: int = DEFAULT_WORDS_PER_MINUTE
    ) -> None:
        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be from 80 to 450, not {words_per_minute}")
        self.voice = voice
        self.words_per_minute = words_per_minute

    async def synthesize(
        self, text: str, rate: int, *, call_id: str
    ) -> AsyncGenerator[bytes, None]:
        check_output_rate(rate)
        resampler = StreamResampler(ESPEAK_RATE, rate)
        for sentence in split_sentences(text):
            chunks = await asyncio.to_thread(self._speak, sentence)
            for chunk in chunks:
                if out := resampler.feed(chunk):
                    yield out
            # flushing per sentence: the sentence's last syllable must not wait for the next
            if tail := resampler.flush():
                yield tail

    def check(self) -> None:
        """Load espeak-ng and the voice now (SpeechUnavailable if that fails), so a broken
        install shows when the edge starts, not on the first call."""
        engine().prepare(self.voice, self.words_per_minute)

    def _speak(self, sentence: str) -> list[bytes]:
        return engine().speak(sentence, self.voice, self.words_per_minute)


def synthesize_to_pcm(
    text: str,
    rate: int,
    *,
    voice: str = DEFAULT_VOICE,
    words_per_minute: int = DEFAULT_WORDS_PER_MINUTE,
) -> bytes:
    """The whole text as 16-bit mono PCM at `rate` (blocking; for tests and the simulator)."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    pcm = b"".join(engine().speak(text, voice, words_per_minute))
    resampler = StreamResampler(ESPEAK_RATE, rate)
    return resampler.feed(pcm) + resampler.flush()

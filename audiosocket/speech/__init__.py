"""Speech for the edge: voice activity and endpointing, speech-to-text, text-to-speech."""

from audiosocket.speech.base import CALL_ID_HEADER, Synthesizer, Transcriber
from audiosocket.speech.cache import CachingSynthesizer
from audiosocket.speech.endpointer import (
    Endpointer,
    OnsetFaded,
    SpeechEnded,
    SpeechOnset,
    SpeechPaused,
    SpeechStarted,
)
from audiosocket.speech.errors import SpeechUnavailable
from audiosocket.speech.factory import build_synthesizer, build_transcriber
from audiosocket.speech.resample import StreamResampler, resample
from audiosocket.speech.stt import OpenAiTranscriber
from audiosocket.speech.tts_espeak import EspeakSynthesizer, synthesize_to_pcm
from audiosocket.speech.tts_openai import OpenAiSynthesizer
from audiosocket.speech.vad import VoiceActivity

__all__ = [
    "CALL_ID_HEADER",
    "CachingSynthesizer",
    "Endpointer",
    "EspeakSynthesizer",
    "OnsetFaded",
    "OpenAiSynthesizer",
    "OpenAiTranscriber",
    "SpeechEnded",
    "SpeechOnset",
    "SpeechPaused",
    "SpeechStarted",
    "SpeechUnavailable",
    "StreamResampler",
    "Synthesizer",
    "Transcriber",
    "VoiceActivity",
    "build_synthesizer",
    "build_transcriber",
    "resample",
    "synthesize_to_pcm",
]

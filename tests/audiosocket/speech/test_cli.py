"""`python -m audiosocket.speech`: say and listen, real espeak and silero."""

from __future__ import annotations

import wave
from pathlib import Path

from click.testing import CliRunner

from audiosocket.speech import resample
from audiosocket.speech.__main__ import main
from audiosocket.speech.stt import to_wav
from tests.audiosocket.speech.audio import silence, speech, tone


def test_say_then_listen_finds_the_utterances(tmp_path: Path) -> None:
    runner = CliRunner()
    said = tmp_path / "said.wav"
    result = runner.invoke(main, ["say", "Алло, где мой заказ?", str(said), "--rate", "16000"])
    assert result.exit_code == 0, result.output
    with wave.open(str(said), "rb") as audio:
        assert (audio.getnchannels(), audio.getframerate()) == (1, 16000)
        assert 0.8 < audio.getnframes() / 16000 < 4.0

    # two phrases with a pause and a tone between them, as a line might carry
    line = speech(8000) + silence(1.5, 8000) + tone(1.0, 8000) + speech(8000)
    recording = tmp_path / "line.wav"
    recording.write_bytes(to_wav(line, 8000))
    out = tmp_path / "utterances"
    result = runner.invoke(main, ["listen", str(recording), "--save-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("speech started") == 2
    assert "2 utterance(s)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["utterance-001.wav", "utterance-002.wav"]


def test_listen_resamples_other_rates_and_refuses_stereo(tmp_path: Path) -> None:
    runner = CliRunner()
    cd = tmp_path / "cd.wav"  # 44.1 kHz: the tool resamples it for the VAD
    with wave.open(str(cd), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(resample(speech(16000), 16000, 44100))
    result = runner.invoke(main, ["listen", str(cd)])
    assert result.exit_code == 0, result.output
    assert "1 utterance(s)" in result.output

    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(3200))
    result = runner.invoke(main, ["listen", str(stereo)])
    assert result.exit_code != 0 and "16-bit mono" in result.output

    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    result = runner.invoke(main, ["listen", str(junk)])
    assert result.exit_code != 0 and "not a PCM WAV file" in result.output

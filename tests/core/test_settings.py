"""core/settings.py: defaults, environment and `.env`, readable errors, the docs table."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.local_stack import write_stack_file
from core.settings import (
    DEV_STORE_API_TOKEN,
    PROJECT_ROOT,
    ConfigurationError,
    LogFormat,
    Settings,
    StoreApiMode,
    TtsProvider,
    get_settings,
    load_settings,
)
from core.vocabulary import AgentMode, SmsProvider

CONFIGURATION_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
FIELDS = set(Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No settings from the outside world: no variables, no `.env`, a fresh cache."""
    for name in list(os.environ):
        if name.lower() in FIELDS:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_defaults() -> None:
    s = Settings()
    assert s.temporal_address == "127.0.0.1:7233"
    assert s.temporal_namespace == "default"
    assert s.temporal_task_queue == "voiceorder-calls"
    assert s.audiosocket_host == "127.0.0.1"
    assert s.audiosocket_port == 9092
    assert s.metrics_host == "127.0.0.1"
    assert s.store_api_url == "http://127.0.0.1:8080/api/v1"
    assert (s.store_api_host, s.store_api_port) == ("127.0.0.1", 8080)
    assert s.store_api_mode is StoreApiMode.DEV
    assert s.store_api_token is None
    assert s.database_url is None and s.effective_store_database_url is None
    assert s.data_dir == PROJECT_ROOT / ".data"
    assert s.embedded_pg_port == 54329
    assert s.sms_provider is SmsProvider.DATABASE
    assert s.llm_model == "gpt-4o-mini"
    assert s.openai_base_url is None and s.openai_api_key is None
    assert (s.log_level, s.log_format) == ("INFO", LogFormat.CONSOLE)


@pytest.mark.parametrize("mode", ["dev", "test"])
def test_dev_token_outside_prod(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("STORE_API_MODE", mode)
    assert Settings().effective_store_api_token == DEV_STORE_API_TOKEN == "voiceorder-dev-token"


def test_no_token_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_API_MODE", "prod")
    s = Settings()
    assert s.store_api_mode is StoreApiMode.PROD
    assert s.effective_store_api_token is None


@pytest.mark.parametrize("mode", ["dev", "prod"])
def test_configured_token_wins(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("STORE_API_MODE", mode)
    monkeypatch.setenv("STORE_API_TOKEN", "s3cret")
    assert Settings().effective_store_api_token == "s3cret"


def test_store_database_falls_back_to_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot@db/bot")
    assert Settings().effective_store_database_url == "postgresql://bot@db/bot"
    monkeypatch.setenv("STORE_DATABASE_URL", "postgresql://store@db/store")
    assert Settings().effective_store_database_url == "postgresql://store@db/store"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("TEMPORAL_ADDRESS", "temporal:7233", "temporal_address", "temporal:7233"),
        ("AUDIOSOCKET_PORT", "9100", "audiosocket_port", 9100),
        ("METRICS_HOST", "0.0.0.0", "metrics_host", "0.0.0.0"),
        ("METRICS_HOST", "::1", "metrics_host", "::1"),
        ("METRICS_HOST", "edge-metrics.internal", "metrics_host", "edge-metrics.internal"),
        (
            "STORE_API_URL",
            "https://store.example/api/v1/",
            "store_api_url",
            "https://store.example/api/v1",
        ),
        ("STORE_API_PORT", "18080", "store_api_port", 18080),
        ("STORE_API_TIMEOUT_S", "2.5", "store_api_timeout_s", 2.5),
        ("STORE_API_FAULT_ERROR_RATE", "0.25", "store_api_fault_error_rate", 0.25),
        ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("LOG_FORMAT", "json", "log_format", LogFormat.JSON),
        ("DATA_DIR", "/var/lib/voiceorder", "data_dir", Path("/var/lib/voiceorder")),
        ("temporal_namespace", "calls", "temporal_namespace", "calls"),  # case-insensitive
    ],
)
def test_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected
    assert getattr(get_settings(), field) == expected


def test_dotenv_in_the_working_directory(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "TEMPORAL_ADDRESS=from-dotenv:7233\nAUDIOSOCKET_PORT=9200\n", encoding="utf-8"
    )
    assert get_settings().temporal_address == "from-dotenv:7233"
    get_settings.cache_clear()
    monkeypatch.setenv("TEMPORAL_ADDRESS", "from-env:7233")
    s = get_settings()
    assert (s.temporal_address, s.audiosocket_port) == ("from-env:7233", 9200)


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().temporal_address == "elsewhere:7233"


BAD_VALUES = [
    ("STORE_API_PORT", "abc"),
    ("STORE_API_PORT", "0"),
    ("STORE_API_PORT", "70000"),
    ("AUDIOSOCKET_PORT", "-1"),
    ("EMBEDDED_PG_PORT", "pg"),
    ("TEMPORAL_UI_PORT", "65536"),
    ("STORE_API_MODE", "staging"),
    ("STORE_API_URL", "ftp://store.example"),
    ("STORE_API_URL", "127.0.0.1:8080"),
    ("STORE_API_TIMEOUT_S", "0"),
    ("STORE_API_RETRIES", "11"),
    ("STORE_API_FAULT_ERROR_RATE", "2"),
    ("STORE_API_FAULT_LATENCY_MS", "-5"),
    ("STORE_API_BREAKER_THRESHOLD", "0"),
    ("STORE_API_RATE_LIMIT_RPS", "-1"),
    ("SMS_PROVIDER", "carrier-pigeon"),
    ("LOG_LEVEL", "verbose"),
    ("LOG_FORMAT", "xml"),
    ("store_api_port", "abc"),  # named in upper case whatever the spelling
    ("AGENT", "gpt"),
    ("AUDIOSOCKET_EXTERNAL_HOST", "asterisk-box"),  # no port
    ("AUDIOSOCKET_EXTERNAL_HOST", "10.0.0.5:99999"),
    ("ARI_URL", "ws://127.0.0.1:8088"),
    ("STT_BASE_URL", "localhost:9000"),
    ("TTS_PROVIDER", "festival"),
    ("METRICS_HOST", "0.0.0.0:9100"),  # a port belongs to --metrics-port
    ("METRICS_HOST", "http://127.0.0.1"),
    ("METRICS_HOST", "1.2.3"),
    ("PAYLOAD_KEYS", "k1"),  # no key
    ("PAYLOAD_KEYS", "k1:c2hvcnQ="),  # 5 bytes, not 32
    ("PAYLOAD_KEY_ID", "key id with spaces"),
    ("CODEC_SERVER_HOST", "0.0.0.0:8234"),
    ("CODEC_SERVER_PORT", "0"),
    ("CODEC_SERVER_ALLOW_IPS", "everyone"),
    ("CODEC_SERVER_ALLOW_IPS", "10.0.0.0/33"),
    ("CODEC_SERVER_TOKENS", "short"),
    ("CODEC_SERVER_ORIGINS", "127.0.0.1:8233"),  # no scheme
    ("CODEC_SERVER_ORIGINS", "http://ui.example/workflows"),  # a path is not an origin
    ("END_OF_TURN_YES_NO_MS", "100"),  # a gap between words would end the turn
    ("END_OF_TURN_DIGITS_MS", "9000"),  # the caller would hear dead air
    ("END_OF_TURN_FREE_MS", "soon"),
    ("END_OF_TURN_EARLY_STT_MS", "-1"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    message = str(info.value)
    assert message.startswith(f"invalid configuration: {variable.upper()}: ")
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_empty_variable_is_an_unset_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose passes for `${ARI_URL:-}` when the operator set nothing."""
    for variable in ("ARI_URL", "OPENAI_BASE_URL", "METRICS_HOST", "STT_API_KEY", "AGENT"):
        monkeypatch.setenv(variable, "")
    s = get_settings()
    assert (s.ari_url, s.openai_base_url, s.stt_api_key) == (None, None, None)
    assert (s.metrics_host, s.agent) == ("127.0.0.1", AgentMode.AUTO)


def test_error_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_API_URL", "ftp://user:hunter2@store.example")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    assert "hunter2" not in str(info.value)


def test_no_secret_or_database_password_is_in_the_settings_repr() -> None:
    secrets = {
        "database_url": "postgresql://bot:db-pass-1@db/bot",
        "store_database_url": "postgresql://store:db-pass-2@db/store",
        "temporal_api_key": "temporal-key-3",
        "store_api_token": "store-token-4",
        "openai_api_key": "openai-key-5",
        "sms_gateway_token": "sms-token-6",
        "ari_password": "ari-pass-7",
        "reply_stream_secret": "stream-secret-8",
        "stt_api_key": "stt-key-9",
        "tts_api_key": "tts-key-10",
    }
    shown = repr(Settings(**secrets))  # type: ignore[arg-type]
    assert "Settings(" in shown and "store_api_mode=" in shown
    assert [value for value in secrets.values() if value in shown] == []


def test_every_bad_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_API_PORT", "abc")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    problems = str(info.value).removeprefix("invalid configuration: ").split("; ")
    assert sorted(p.split(":")[0] for p in problems) == ["LOG_FORMAT", "STORE_API_PORT"]


def test_a_bad_value_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_API_PORT", "abc")
    with pytest.raises(ConfigurationError):
        get_settings()
    monkeypatch.setenv("STORE_API_PORT", "8081")
    assert get_settings().store_api_port == 8081


def test_http_sms_needs_a_gateway_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_PROVIDER", "http")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    message = str(info.value)
    assert "SMS_GATEWAY_URL" in message
    assert re.match(r"invalid configuration: \w", message), "no empty field name"
    get_settings.cache_clear()
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example/send")
    s = get_settings()
    assert (s.sms_provider, s.sms_gateway_url) == (SmsProvider.HTTP, "https://sms.example/send")


# --- the settings table of docs/configuration.md ------------------------------------------


def settings_table() -> dict[str, str]:
    """`VARIABLE` → default cell, from the tables under "## Variables"."""
    text = CONFIGURATION_PAGE.read_text("utf-8")
    section = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]*) \|", section, flags=re.MULTILINE)
    assert rows, "no settings table in docs/configuration.md"
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a setting listed twice"
    return {name: default.strip() for name, default in rows}


def test_docs_name_every_setting() -> None:
    documented = set(settings_table())
    assert {field.upper() for field in FIELDS} - documented == set()


def test_docs_name_no_setting_that_does_not_exist() -> None:
    assert set(settings_table()) - {field.upper() for field in FIELDS} == set()


def test_docs_defaults_match() -> None:
    defaults = Settings.model_construct()  # defaults only, no environment
    checked = 0
    for variable, cell in settings_table().items():
        value = getattr(defaults, variable.lower())
        literal = re.fullmatch(r"`([^`]+)`(?: \(.*\))?", cell)
        if cell.startswith("unset"):
            assert value is None, variable
        elif literal and not re.fullmatch(r"[A-Z_]+", literal[1]):
            documented = literal[1]
            if isinstance(value, bool):
                assert documented == str(value).lower(), variable
            elif isinstance(value, int | float):
                assert float(documented) == value, variable
            else:
                assert documented == str(value), variable
            checked += 1
    assert checked >= 20


def test_openai_tts_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_PROVIDER", "openai")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    assert "TTS_BASE_URL" in str(info.value)


def test_edge_and_agent_defaults() -> None:
    s = Settings()
    assert s.agent is AgentMode.AUTO and not s.llm_configured
    assert s.effective_audiosocket_external_host == "127.0.0.1:9092"
    assert (s.ari_app, s.operator_context) == ("voiceorder", "operators")
    assert s.tts_provider is TtsProvider.ESPEAK and s.stt_base_url is None
    waits = (
        s.end_of_turn_yes_no_ms,
        s.end_of_turn_digits_ms,
        s.end_of_turn_address_ms,
        s.end_of_turn_product_ms,
        s.end_of_turn_free_ms,
    )
    assert waits == (400, 1200, 1200, 1000, 700)


def test_external_host_and_urls_are_tidied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOSOCKET_EXTERNAL_HOST", "10.0.0.5:9092")
    monkeypatch.setenv("ARI_URL", "http://127.0.0.1:8088/")
    s = get_settings()
    assert s.effective_audiosocket_external_host == "10.0.0.5:9092"
    assert s.ari_url == "http://127.0.0.1:8088"


# --- payload keys and the codec server ------------------------------------------------------

KEY = "k1:" + "A" * 43 + "="  # 32 zero bytes


def test_payload_keys_are_checked_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLOAD_KEYS", f"{KEY},k2:{'B' * 20}")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    assert str(info.value).startswith("invalid configuration: PAYLOAD_KEYS: ")
    assert "entry 2 ('k2')" in str(info.value) and "B" * 20 not in str(info.value)
    monkeypatch.setenv("PAYLOAD_KEYS", KEY)
    get_settings.cache_clear()
    s = get_settings()
    assert s.payload_keys is not None and s.payload_keys.get_secret_value() == KEY
    assert "A" * 43 not in repr(s) and "A" * 43 not in str(s.model_dump())


def test_keys_inline_or_from_a_file_not_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLOAD_KEYS", KEY)
    monkeypatch.setenv("PAYLOAD_KEYS_FILE", "/run/secrets/payload-keys")
    with pytest.raises(ConfigurationError, match="set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both"):
        get_settings()


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose passes `${VAR:-}` as an empty string."""
    for name in ("PAYLOAD_KEYS", "PAYLOAD_KEYS_FILE", "PAYLOAD_KEY_ID", "CODEC_SERVER_TOKENS"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("CODEC_SERVER_ORIGINS", " ")
    s = get_settings()
    assert (s.payload_keys, s.payload_keys_file, s.payload_key_id) == (None, None, None)
    assert (s.codec_server_tokens, s.codec_server_origins) == (None, None)


def test_codec_server_origins_default_to_the_web_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.effective_codec_server_origins == ("http://127.0.0.1:8233", "http://localhost:8233")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_UI_PORT", "8080")
    assert Settings().effective_codec_server_origins == ("http://temporal.internal:8080",)
    monkeypatch.setenv("CODEC_SERVER_ORIGINS", "https://temporal.example/, http://10.0.0.5:8233")
    assert Settings().effective_codec_server_origins == (
        "https://temporal.example",
        "http://10.0.0.5:8233",
    )


def test_prod_mode_is_production() -> None:
    assert not Settings().production
    assert Settings(store_api_mode=StoreApiMode.PROD).production


# --- Temporal over TLS ------------------------------------------------------------------------


def test_a_client_certificate_needs_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CERT", "/etc/temporal/client.pem")
    with pytest.raises(ConfigurationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"):
        get_settings()


def test_an_api_key_or_a_certificate_turns_tls_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings().temporal_uses_tls
    monkeypatch.setenv("TEMPORAL_API_KEY", "key")
    assert Settings().temporal_uses_tls
    monkeypatch.setenv("TEMPORAL_API_KEY", "")  # what compose passes for an unset variable
    s = Settings()
    assert s.temporal_api_key is None and not s.temporal_uses_tls


# --- joining a running `voiceorder up` ------------------------------------------------------


def test_a_command_beside_a_running_up_takes_what_it_chose(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_stack_file(
        data_dir,
        {
            "DATABASE_URL": "postgresql://voiceorder@127.0.0.1:54329/voiceorder",
            "TEMPORAL_ADDRESS": "127.0.0.1:7299",
            "STORE_API_URL": "http://127.0.0.1:8099/api/v1",
            "NOT_A_SETTING": "ignored",
        },
    )
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("STORE_API_URL", "http://mine:8080/api/v1")  # set here: it wins
    s = get_settings()
    assert s.database_url == "postgresql://voiceorder@127.0.0.1:54329/voiceorder"
    assert s.temporal_address == "127.0.0.1:7299"
    assert s.store_api_url == "http://mine:8080/api/v1"
    assert load_settings().database_url is None, "`up` itself never joins"


def test_a_stack_file_of_an_up_that_is_gone_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dead_pid = _exited_pid()
    write_stack_file(tmp_path, {"DATABASE_URL": "postgresql://x@y/z"}, pid=dead_pid)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert get_settings().database_url is None
    (tmp_path / "stack.json").write_text("{not json", encoding="utf-8")
    get_settings.cache_clear()
    assert get_settings().database_url is None


def _exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid

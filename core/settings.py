"""One typed settings object for every process (12-factor: environment, then `.env`).

Every field is listed with its default in docs/configuration.md; keep the two in step
(test_settings.py checks that the page names every variable and its default).
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codec_access import parse_allow_list, parse_origins, parse_tokens
from core.local_stack import running_stack
from core.payload_keys import check_key_id, parse_key_entries
from core.vocabulary import AgentMode, SmsProvider

# The fixed token of local development. Documented in docs/store-api.md; refused in prod mode.
DEV_STORE_API_TOKEN = "voiceorder-dev-token"

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Calls one edge process takes at once; past it a caller is handed to the operators or hears
# the busy phrase. How the number was chosen: docs/benchmarks.md (B3, edge audio capacity).
DEFAULT_EDGE_MAX_CALLS = 100


class StoreApiMode(StrEnum):
    """`dev`/`test` allow the dev token, admin endpoints and fault injection; `prod` allows none."""

    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class TtsProvider(StrEnum):
    ESPEAK = "espeak"
    OPENAI = "openai"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


Port = Annotated[int, Field(ge=1, le=65535)]
# Shorter than 200 ms a gap between words ends the turn; beyond 5 s the caller hears dead air.
EndOfTurnMs = Annotated[int, Field(ge=200, le=5000)]
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


class Settings(BaseSettings):
    # An empty variable is an unset one: compose passes `${X:-}` for every optional setting
    # the operator did not set, and `ARI_URL=` must not read as a malformed URL.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # --- storage -----------------------------------------------------------------------
    # URLs and secrets stay out of repr(): a Settings in a traceback or a debug line must not
    # carry a password (SecretStr where the value is parsed anyway: payload keys, tokens).
    database_url: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL of the bot (audit, calls, SMS). Unset: embedded PostgreSQL.",
    )
    store_database_url: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL of the reference Store API. Unset: the same as DATABASE_URL.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data", description="Local data of `voiceorder up`."
    )
    embedded_pg_port: Port = Field(
        default=54329, description="TCP port of the embedded PostgreSQL (127.0.0.1 only)."
    )

    # --- Temporal ------------------------------------------------------------------------
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "voiceorder-calls"
    temporal_ui_port: Port = 8233
    # A cluster of your own with TLS (mTLS), or Temporal Cloud (API key or mTLS).
    temporal_tls: bool = Field(
        default=False,
        description="TLS to the Temporal frontend; on with any TEMPORAL_TLS_* or an API key.",
    )
    temporal_tls_cert: Path | None = Field(
        default=None, description="Client certificate (PEM) for mTLS; needs TEMPORAL_TLS_KEY."
    )
    temporal_tls_key: Path | None = Field(
        default=None, description="Private key (PEM) of TEMPORAL_TLS_CERT."
    )
    temporal_tls_ca: Path | None = Field(
        default=None, description="CA certificate (PEM) the server's is checked against."
    )
    temporal_tls_server_name: str | None = Field(
        default=None, description="Server name to verify when it differs from the address."
    )
    temporal_api_key: str | None = Field(
        default=None,
        repr=False,
        description="Temporal Cloud API key (sent as a bearer token; TLS on).",
    )

    # --- payload encryption (docs/privacy.md) ------------------------------------------
    payload_keys: SecretStr | None = Field(
        default=None,
        description="`id:base64key,…` (AES-256, oldest first) that encrypt Temporal payloads.",
    )
    payload_keys_file: Path | None = Field(
        default=None, description="A file of `id:base64key` lines, instead of PAYLOAD_KEYS."
    )
    payload_key_id: str | None = Field(
        default=None, description="The key new payloads are encrypted with. Unset: the last one."
    )

    # --- codec server for the Temporal Web UI --------------------------------------------
    codec_server_host: str = "127.0.0.1"
    codec_server_port: Port = 8234
    codec_server_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="Addresses or networks served without a token (comma-separated; `none`: none).",
    )
    codec_server_tokens: SecretStr | None = Field(
        default=None, description="Bearer tokens that may decode from anywhere (comma-separated)."
    )
    codec_server_origins: str | None = Field(
        default=None,
        description="Browser origins allowed by CORS. Unset: the Temporal Web UI of TEMPORAL_*.",
    )

    # --- Store API (server and client) -----------------------------------------------
    store_api_url: str = "http://127.0.0.1:8080/api/v1"
    store_api_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token. In dev/test mode defaults to the dev token.",
    )
    store_api_host: str = "127.0.0.1"
    store_api_port: Port = 8080
    store_api_mode: StoreApiMode = StoreApiMode.DEV
    store_api_fault_latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    store_api_fault_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    store_api_rate_limit_rps: Annotated[float, Field(ge=0.0)] = 0.0
    store_api_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    store_api_retries: Annotated[int, Field(ge=0, le=10)] = 3
    store_api_breaker_threshold: Annotated[int, Field(ge=1, le=1000)] = 5
    store_api_breaker_reset_s: Annotated[float, Field(gt=0, le=3600)] = 30.0

    # --- LLM ------------------------------------------------------------------------------
    openai_base_url: str | None = None
    openai_api_key: str | None = Field(default=None, repr=False)
    llm_model: str = "gpt-4o-mini"
    agent: AgentMode = Field(
        default=AgentMode.AUTO,
        description="`llm`, `guided` (no LLM needed) or `auto` (LLM, guided on failure).",
    )

    # --- calls --------------------------------------------------------------------------
    call_attention_after_s: Annotated[int, Field(ge=0, le=86_400)] = Field(
        default=120,
        description="Post-call work failing this long sets the call's Attention attribute.",
    )

    order_lookup_max_failures_per_call: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5,
        description="Order look-ups by number that find nothing, per call, before the caller"
        " is offered an operator instead of another look-up.",
    )
    order_lookup_max_failures_per_phone: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=10,
        description="The same, per phone across calls within ORDER_LOOKUP_WINDOW_H.",
    )
    order_lookup_window_h: Annotated[int, Field(ge=1, le=24 * 90)] = Field(
        default=24, description="Hours the per-phone count of failed look-ups goes back."
    )

    # --- SMS ----------------------------------------------------------------------------
    sms_provider: SmsProvider = Field(
        default=SmsProvider.DATABASE,
        description="`database` (dev: messages stored in bot.sms_messages) or `http`.",
    )
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = Field(default=None, repr=False)

    # --- edge ---------------------------------------------------------------------------------
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: Port = 9092
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Listen address of the edge's /metrics and /health (no authentication).",
    )
    audiosocket_external_host: str | None = Field(
        default=None,
        description="`host:port` Asterisk dials for externalMedia. Unset: the listen address.",
    )
    ari_url: str | None = None
    ari_user: str | None = None
    ari_password: str | None = Field(default=None, repr=False)
    ari_app: str = "voiceorder"
    ari_media_format: Literal["slin16", "slin"] = Field(
        default="slin16",
        description="externalMedia format: `slin16` (16 kHz, Asterisk 20.17+) or `slin` (8 kHz).",
    )
    operator_context: str = Field(
        default="operators", description="Dialplan context a transferred caller continues in."
    )
    edge_max_calls: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=DEFAULT_EDGE_MAX_CALLS,
        description="Calls one edge takes at once; past it callers go to the operators or "
        "hear that the lines are busy.",
    )

    # --- turn-taking: the silence that ends a caller's turn, by what the bot asked ----------
    end_of_turn_yes_no_ms: EndOfTurnMs = Field(
        default=400, description="After a yes/no question (the read-back, «Верно?»)."
    )
    end_of_turn_digits_ms: EndOfTurnMs = Field(
        default=1200, description="While digits are dictated (an order number, a phone)."
    )
    end_of_turn_address_ms: EndOfTurnMs = Field(
        default=1200, description="While an address is dictated."
    )
    end_of_turn_product_ms: EndOfTurnMs = Field(
        default=1000, description="After «which product?»: callers pause between products."
    )
    end_of_turn_free_ms: EndOfTurnMs = Field(
        default=700, description="After any other question, or none."
    )
    end_of_turn_early_stt_ms: Annotated[int, Field(ge=0, le=5000)] = Field(
        default=300,
        description="Silence after which the utterance so far is transcribed while the wait"
        " still runs (kept if the caller stays silent); 0: off.",
    )

    # --- streamed replies (docs/streaming.md): off while the secret is unset -----------------
    reply_stream_secret: str | None = Field(
        default=None,
        repr=False,
        description="Shared by the worker and the edge: the edge takes streamed sentences only "
        "from a worker that proves it knows it. Unset: replies are not streamed.",
    )
    reply_stream_host: str = Field(
        default="127.0.0.1", description="Listen address of the edge's reply-stream endpoint."
    )
    reply_stream_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9094, description="Port of the edge's reply-stream endpoint; 0 picks a free one."
    )
    reply_stream_url: str | None = Field(
        default=None,
        description="Base URL workers reach the edge's endpoint at (behind NAT, in a "
        "container). Unset: http://REPLY_STREAM_HOST:port.",
    )

    # --- speech -------------------------------------------------------------------------------
    stt_base_url: str | None = Field(
        default=None, description="OpenAI-compatible transcription endpoint (required by the edge)."
    )
    stt_api_key: str | None = Field(default=None, repr=False)
    stt_model: str = "whisper-1"
    tts_provider: TtsProvider = TtsProvider.ESPEAK
    tts_base_url: str | None = None
    tts_api_key: str | None = Field(default=None, repr=False)
    tts_model: str = "tts-1"
    tts_voice: str = "alloy"

    # --- observability ------------------------------------------------------------------------
    tracing_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector for OpenTelemetry traces, e.g. http://127.0.0.1:4318.",
    )

    # --- logging ------------------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.CONSOLE

    @field_validator(
        "temporal_tls_cert",
        "temporal_tls_key",
        "temporal_tls_ca",
        "temporal_tls_server_name",
        "temporal_api_key",
        "tracing_otlp_endpoint",
        "payload_keys",
        "payload_keys_file",
        "payload_key_id",
        "codec_server_tokens",
        "codec_server_origins",
        "reply_stream_secret",
        "reply_stream_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose passes an unset variable as "" (`${TEMPORAL_API_KEY:-}`); blank is unset too.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator(
        "store_api_url",
        "ari_url",
        "stt_base_url",
        "tts_base_url",
        "openai_base_url",
        "tracing_otlp_endpoint",
        "reply_stream_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("metrics_host", "codec_server_host")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if _HOST_NAME.fullmatch(value) is None or value.replace(".", "").isdigit():
                raise ValueError(
                    "must be an IP address or a host name, e.g. 127.0.0.1 (loopback) or 0.0.0.0"
                ) from None
        return value

    @field_validator("payload_keys")
    @classmethod
    def _key_entries(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_key_entries(value.get_secret_value())  # raises ValueError naming the entry
        return value

    @field_validator("payload_key_id")
    @classmethod
    def _key_id(cls, value: str | None) -> str | None:
        if value:
            return check_key_id(value)
        return None

    @field_validator("codec_server_allow_ips")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        parse_allow_list(value)
        return value

    @field_validator("codec_server_tokens")
    @classmethod
    def _tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and parse_tokens(value.get_secret_value()):
            return value
        return None

    @field_validator("codec_server_origins")
    @classmethod
    def _origins(cls, value: str | None) -> str | None:
        if value is not None:
            parse_origins(value)
        return value

    @model_validator(mode="after")
    def _one_source_of_keys(self) -> Settings:
        if self.payload_keys is not None and self.payload_keys_file is not None:
            raise ValueError("set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both")
        return self

    @field_validator("audiosocket_external_host")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 10.0.0.5:9092")
        return value

    @model_validator(mode="after")
    def _client_cert_comes_with_its_key(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both")
        return self

    @model_validator(mode="after")
    def _http_sms_needs_a_gateway(self) -> Settings:
        if self.sms_provider is SmsProvider.HTTP and not self.sms_gateway_url:
            raise ValueError("SMS_PROVIDER=http needs SMS_GATEWAY_URL")
        return self

    @model_validator(mode="after")
    def _openai_tts_needs_an_endpoint(self) -> Settings:
        if self.tts_provider is TtsProvider.OPENAI and not self.tts_base_url:
            raise ValueError("TTS_PROVIDER=openai needs TTS_BASE_URL")
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """Any of the TLS settings or an API key means TLS (Temporal Cloud takes nothing else)."""
        return bool(
            self.temporal_tls
            or self.temporal_api_key
            or self.temporal_tls_cert
            or self.temporal_tls_ca
            or self.temporal_tls_server_name
        )

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_base_url)

    @property
    def effective_audiosocket_external_host(self) -> str:
        """Where Asterisk connects for externalMedia: the listen address unless overridden."""
        return self.audiosocket_external_host or f"{self.audiosocket_host}:{self.audiosocket_port}"

    @property
    def effective_store_api_token(self) -> str | None:
        """The token both sides use: the configured one, or the dev token outside prod."""
        if self.store_api_token:
            return self.store_api_token
        if self.store_api_mode is not StoreApiMode.PROD:
            return DEV_STORE_API_TOKEN
        return None

    @property
    def production(self) -> bool:
        """Prod mode (STORE_API_MODE=prod): no dev token, and no process without payload keys."""
        return self.store_api_mode is StoreApiMode.PROD

    @property
    def temporal_ui_origin(self) -> str:
        """Where a browser opens the Temporal Web UI of TEMPORAL_ADDRESS and TEMPORAL_UI_PORT."""
        host = self.temporal_address.rsplit(":", 1)[0].strip("[]")
        if host in {"0.0.0.0", "::", ""}:
            host = "127.0.0.1"
        return f"http://{host}:{self.temporal_ui_port}"

    @property
    def effective_codec_server_origins(self) -> tuple[str, ...]:
        """CODEC_SERVER_ORIGINS, or the Web UI's origin (and its `localhost` twin on loopback)."""
        if self.codec_server_origins is not None:
            return parse_origins(self.codec_server_origins)
        ui = self.temporal_ui_origin
        twins = {
            f"http://127.0.0.1:{self.temporal_ui_port}",
            f"http://localhost:{self.temporal_ui_port}",
        }
        return tuple(sorted(twins)) if ui in twins else (ui,)

    @property
    def effective_store_database_url(self) -> str | None:
        return self.store_database_url or self.database_url


class ConfigurationError(RuntimeError):
    """The environment or `.env` holds a value the settings refuse; the message says which."""


def load_settings(**values: object) -> Settings:
    """The settings from the environment and `.env` (`values` win); one readable line on
    a bad value. `voiceorder up` uses these: it is the one that decides the rest."""
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(filter(None, (".".join(map(str, e["loc"])).upper(), e["msg"])))
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of every command but `up`: like `load_settings`, and beside a running
    `voiceorder up` (same DATA_DIR) every variable not set here is taken from what that `up`
    chose (core/local_stack.py), so a worker or edge started by hand joins its stack."""
    settings = load_settings()
    stack = running_stack(settings.data_dir.resolve())
    if stack is None:
        return settings
    joined = {
        field: value
        for name, value in stack.settings.items()
        if (field := name.lower()) in Settings.model_fields
        and field not in settings.model_fields_set
    }
    return load_settings(**joined) if joined else settings

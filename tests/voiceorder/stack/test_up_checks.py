"""`voiceorder up` refuses clearly before it starts anything; the plan it makes."""

from __future__ import annotations

import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cpu_priority import BACKGROUND_NICE
from core.settings import DEV_STORE_API_TOKEN, Settings, get_settings
from tests.support.payload_keys import TEST_KEY_ID, TEST_PAYLOAD_KEYS_TEXT
from tests.support.servers import free_port
from voiceorder.stack import up
from voiceorder.stack.payload_key import prepare_stack_keys
from voiceorder.stack.up import MARKER, Stack, banner, up_command, without_password


@pytest.fixture
def no_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests must stop before anything runs; fail loudly if the stack would start."""

    async def refuse(*args: object) -> int:
        raise AssertionError("the stack was about to start")

    monkeypatch.setattr(up, "_run", refuse)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def free_ports_env(data_dir: Path) -> dict[str, str]:
    """Every port `up` checks, free: a stack already running here holds the defaults."""
    store = free_port()
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "EMBEDDED_PG_PORT": str(free_port()),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_UI_PORT": str(free_port()),
        "STORE_API_HOST": "127.0.0.1",
        "STORE_API_PORT": str(store),
        "STORE_API_URL": f"http://127.0.0.1:{store}/api/v1",
        "AUDIOSOCKET_HOST": "127.0.0.1",
        "AUDIOSOCKET_PORT": str(free_port()),
        "CODEC_SERVER_HOST": "127.0.0.1",
        "CODEC_SERVER_PORT": str(free_port()),
    }


@pytest.mark.parametrize(
    ("setting", "port_of"),
    [
        ("TEMPORAL_ADDRESS", lambda env: int(env["TEMPORAL_ADDRESS"].rpartition(":")[2])),
        ("TEMPORAL_UI_PORT", lambda env: int(env["TEMPORAL_UI_PORT"])),
        ("STORE_API_PORT", lambda env: int(env["STORE_API_PORT"])),
        ("EMBEDDED_PG_PORT", lambda env: int(env["EMBEDDED_PG_PORT"])),
        ("AUDIOSOCKET_PORT", lambda env: int(env["AUDIOSOCKET_PORT"])),
        ("CODEC_SERVER_PORT", lambda env: int(env["CODEC_SERVER_PORT"])),
    ],
)
def test_a_busy_port_is_named_with_its_setting(
    no_start: None, tmp_path: Path, setting: str, port_of: Callable[[dict[str, str]], int]
) -> None:
    env = free_ports_env(tmp_path / "data")
    port = port_of(env)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = CliRunner().invoke(up_command, [], env=env)
    assert result.exit_code == 1
    assert (
        f"port {port} ({setting}) is in use — is another `voiceorder up` running?" in result.output
    )
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_reset_refuses_a_folder_that_up_did_not_make(no_start: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "precious"
    data_dir.mkdir()
    (data_dir / "thesis.txt").write_text("years of work")
    result = CliRunner().invoke(up_command, ["--reset"], env=free_ports_env(data_dir))
    assert result.exit_code == 1
    assert f"refusing to delete {data_dir}" in result.output
    assert (data_dir / "thesis.txt").exists()


def test_reset_deletes_our_folder_and_says_what(no_start: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "temporal").mkdir(parents=True)
    (data_dir / MARKER).touch()
    (data_dir / "temporal" / "temporal.db").write_text("old history")
    result = CliRunner().invoke(up_command, ["--reset"], env=free_ports_env(data_dir))
    assert "--reset: deleting" in result.output
    assert "embedded PostgreSQL" in result.output
    assert not (data_dir / "temporal").exists()


def test_a_bad_temporal_address_is_named(no_start: None, tmp_path: Path) -> None:
    env = free_ports_env(tmp_path) | {"TEMPORAL_ADDRESS": "7233"}
    result = CliRunner().invoke(up_command, [], env=env)
    assert result.exit_code == 1
    assert "TEMPORAL_ADDRESS: expected host:port" in result.output


def test_with_database_url_no_embedded_postgres_is_planned(tmp_path: Path) -> None:
    stack = Stack.plan(Settings(data_dir=tmp_path, database_url="postgresql://u:secret@db/x"))
    assert stack.postgres is None
    assert "EMBEDDED_PG_PORT" not in {need.setting for need in stack.ports()}
    assert [spec.name for spec in up.stack_services(stack)] == [
        "temporal",
        "codec-server",
        "seed",
        "store-api",
        "worker",
        "edge",
    ]
    assert stack.child_env()["DATABASE_URL"] == "postgresql://u:secret@db/x"


def test_only_the_edges_keep_the_cpu_priority_the_calls_audio_needs(tmp_path: Path) -> None:
    stack = Stack.plan(Settings(data_dir=tmp_path, database_url=None), workers=2, edges=2)
    niceness = {spec.name: spec.nice for spec in up.stack_services(stack)}
    assert niceness == {
        "postgres": BACKGROUND_NICE,
        "temporal": BACKGROUND_NICE,
        "codec-server": BACKGROUND_NICE,
        "seed": BACKGROUND_NICE,
        "store-api": BACKGROUND_NICE,
        "worker-1": BACKGROUND_NICE,
        "worker-2": BACKGROUND_NICE,
        "edge-1": 0,
        "edge-2": 0,
    }
    assert BACKGROUND_NICE > 0


def test_banner_says_what_runs_where(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, temporal_ui_port=18233)
    text = banner(Stack.plan(settings))
    assert "http://127.0.0.1:18233" in text
    assert settings.store_api_url in text
    assert DEV_STORE_API_TOKEN in text
    assert f"postgresql://postgres@127.0.0.1:{settings.embedded_pg_port}/voiceorder" in text
    assert f"AudioSocket 127.0.0.1:{settings.audiosocket_port}" in text
    assert "no STT" in text and "no ARI" in text
    assert "q=гречка" in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cr%40t@db.example:5433/vo", "postgresql://app@db.example:5433/vo"),
        ("postgresql://postgres@127.0.0.1:54329/voiceorder", None),
        (
            "postgresql://app:pw@[::1]/vo?sslmode=require",
            "postgresql://app@[::1]/vo?sslmode=require",
        ),
    ],
)
def test_without_password(url: str, shown: str | None) -> None:
    assert without_password(url) == (shown or url)


def test_up_makes_a_local_payload_key_once_and_hands_it_to_its_children(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    stack = Stack.plan(settings)
    first = prepare_stack_keys(settings, tmp_path)
    assert first.created and first.local_file == tmp_path / "payload-keys"
    assert first.current.startswith("local-")
    assert stat.S_IMODE(first.local_file.stat().st_mode) == 0o600, "the key is the owner's only"
    key_text = first.local_file.read_text()
    again = prepare_stack_keys(settings, tmp_path)
    assert not again.created and again.current == first.current
    assert first.local_file.read_text() == key_text, "reused, not replaced"
    env = stack.with_keys(first).child_env()
    assert env["PAYLOAD_KEYS_FILE"] == str(first.local_file)
    assert f"encrypted (key {first.current}" in banner(stack.with_keys(first))


def test_configured_keys_win_over_a_local_key(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, payload_keys=TEST_PAYLOAD_KEYS_TEXT)
    keys = prepare_stack_keys(settings, tmp_path)
    assert (keys.local_file, keys.created, keys.current) == (None, False, TEST_KEY_ID)
    assert not (tmp_path / "payload-keys").exists()
    assert "PAYLOAD_KEYS_FILE" not in Stack.plan(settings).with_keys(keys).child_env()


def test_prod_mode_refuses_to_start_without_keys(no_start: None, tmp_path: Path) -> None:
    env = free_ports_env(tmp_path / "data") | {"STORE_API_MODE": "prod", "STORE_API_TOKEN": "t"}
    result = CliRunner().invoke(up_command, [], env=env)
    assert result.exit_code == 1
    assert "STORE_API_MODE=prod needs payload keys" in result.output
    assert not (tmp_path / "data" / "payload-keys").exists(), "no local key in prod"


def test_the_web_ui_asks_the_codec_server(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, codec_server_port=18234)
    command = Stack.plan(settings).temporal.command()
    endpoint = command[command.index("--ui-codec-endpoint") + 1]
    assert endpoint == "http://127.0.0.1:18234"
    wildcard = settings.model_copy(update={"codec_server_host": "0.0.0.0"})
    assert up.codec_server_url(wildcard) == "http://127.0.0.1:18234", (
        "a browser cannot open 0.0.0.0"
    )


def test_several_workers_and_edges_are_planned_with_their_own_ports_and_apps(
    tmp_path: Path,
) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url="postgresql://u@db/x",
        audiosocket_port=9300,
        audiosocket_external_host="10.0.0.5:9300",
        ari_url="http://asterisk:8088",
    )
    stack = Stack.plan(settings, workers=2, edges=2)
    services = {spec.name: spec for spec in up.stack_services(stack)}
    assert list(services) == [
        "temporal", "codec-server", "seed", "store-api", "worker-1", "worker-2", "edge-1", "edge-2"
    ]  # fmt: skip
    edge_envs = [services[name].env or {} for name in ("edge-1", "edge-2")]
    assert [env["AUDIOSOCKET_PORT"] for env in edge_envs] == ["9300", "9301"]
    assert [env["ARI_APP"] for env in edge_envs] == ["voiceorder-1", "voiceorder-2"]
    assert [env["AUDIOSOCKET_EXTERNAL_HOST"] for env in edge_envs] == [
        "10.0.0.5:9300",
        "10.0.0.5:9301",
    ]
    edge_ports = [n.port for n in stack.ports() if n.setting == "AUDIOSOCKET_PORT"]
    assert edge_ports == [9300, 9301]
    # Replies are streamed: every worker and edge shares one secret, each edge listens for
    # them on a free port of its own (and tells the workers which).
    secrets = {
        (services[name].env or {})["REPLY_STREAM_SECRET"]
        for name in ("worker-1", "worker-2", "edge-1", "edge-2")
    }
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    assert [env["REPLY_STREAM_PORT"] for env in edge_envs] == ["0", "0"]
    # The stateless ones come back after a crash; the one that holds state does not.
    assert {name for name, spec in services.items() if spec.restart} == {
        "codec-server", "store-api", "worker-1", "worker-2", "edge-1", "edge-2"
    }  # fmt: skip
    text = banner(stack)
    assert "2 × task queue voiceorder-calls" in text
    assert "AudioSocket 127.0.0.1:9301  (ARI http://asterisk:8088 app voiceorder-2" in text
    # One edge keeps the name everybody's dialplan already has.
    single = Stack.plan(settings)
    assert [edge.ari_app for edge in single.edges] == ["voiceorder"]


def test_what_up_publishes_points_at_its_own_temporal_in_plain_grpc(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, temporal_api_key="cloud-key")
    shared = Stack.plan(settings).shared_settings()
    assert shared["DATABASE_URL"].endswith("/voiceorder")
    assert shared["TEMPORAL_TLS"] == "false" and shared["TEMPORAL_API_KEY"] == ""
    assert shared["DATA_DIR"] == str(tmp_path.resolve())


def test_too_many_edges_for_the_port_range_is_refused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, audiosocket_port=65535)
    with pytest.raises(up.StackError, match="set a lower AUDIOSOCKET_PORT"):
        Stack.plan(settings, edges=2)

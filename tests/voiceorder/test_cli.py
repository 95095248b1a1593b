"""The `voiceorder` command line (voiceorder/cli.py) through click's CliRunner: no servers."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.settings import Settings, get_settings
from voiceorder.cli import main

COMMANDS = ["up", "store-api", "worker", "edge", "chat", "call", "history", "bench", "ops"]
# If the configuration check ever stopped working, these make the commands fail fast instead
# of starting anything: Temporal and PostgreSQL on a port where nothing listens.
UNREACHABLE = {
    "TEMPORAL_ADDRESS": "127.0.0.1:1",
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no `.env` from the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=True)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_commands(flag: str) -> None:
    result = invoke(flag)
    assert result.exit_code == 0, result.output
    listed = re.findall(r"^  (\S+)\s", result.output.split("Commands:", 1)[1], flags=re.MULTILINE)
    assert sorted(listed) == sorted(COMMANDS)


def test_no_command_shows_the_commands() -> None:
    result = invoke()
    assert "Usage:" in result.output and "Commands:" in result.output


@pytest.mark.parametrize(
    "args", [["store-api", "--help"], ["history", "--help"], ["bench", "--help"]]
)
def test_groups_have_help(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


BAD_CONFIG = [
    ["worker"],
    ["edge"],
    ["up"],
    ["store-api", "serve"],
    ["store-api", "seed"],
]


@pytest.mark.parametrize("args", BAD_CONFIG, ids=" ".join)
def test_bad_configuration_is_one_line(args: list[str], tmp_path: Path) -> None:
    env = {**UNREACHABLE, "DATA_DIR": str(tmp_path / "data"), "STORE_API_PORT": "abc"}
    result = invoke(*args, env=env)
    assert result.exit_code == 1
    # a ClickException exits; an escaping ConfigurationError would be a traceback
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: invalid configuration: STORE_API_PORT: ")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["chat"], ["history", "export", "call-x"]], ids=" ".join)
def test_bad_configuration_in_temporal_commands(args: list[str]) -> None:
    result = invoke(*args, env={**UNREACHABLE, "STORE_API_PORT": "abc"})
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "invalid configuration: STORE_API_PORT: " in lines[0]


@pytest.mark.parametrize("args", [["chat"], ["history", "export", "call-x"]], ids=" ".join)
def test_bad_configuration_is_not_blamed_on_temporal(args: list[str]) -> None:
    result = invoke(*args, env={**UNREACHABLE, "STORE_API_PORT": "abc"})
    assert result.output.startswith("Error: invalid configuration: STORE_API_PORT: ")


def test_phone_and_withheld_exclude_each_other() -> None:
    result = invoke("chat", "--phone", "+79161234567", "--withheld", env=UNREACHABLE)
    assert result.exit_code == 2  # click's usage error
    assert "Usage:" in result.output
    assert "--phone and --withheld exclude each other" in result.output


def test_chat_script_must_exist(tmp_path: Path) -> None:
    result = invoke("chat", "--script", str(tmp_path / "missing.txt"), env=UNREACHABLE)
    assert result.exit_code == 2
    assert "missing.txt" in result.output


@pytest.mark.parametrize("args", [["chat"], ["history", "export", "call-x"]], ids=" ".join)
def test_temporal_out_of_reach_is_one_line_naming_the_address(args: list[str]) -> None:
    result = invoke(*args, env=UNREACHABLE)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: cannot reach Temporal at 127.0.0.1:1: ")


def test_a_worker_without_a_database_or_a_running_up_says_what_to_do(tmp_path: Path) -> None:
    result = invoke("worker", env={"DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("Error: DATABASE_URL is not set, and no `voiceorder up` runs")
    assert "start `./dev up` first" in lines[0]

"""docker-compose.yml against what the processes really read, so the two cannot drift.

No Docker engine runs here, so the file is checked as data: for every service built from
our image, each environment variable is a setting of core/settings.py; a `${NAME:-default}`
of a setting's own name carries that setting's default, unless compose chooses the value
itself, which only the settings of COMPOSE_CHOICES (each with its reason) may; the
environment compose would pass, with its defaults filled in, is one the settings accept;
each command exists in the `voiceorder` CLI.
The edges, their ports and Stasis apps, and the Prometheus targets agree with each other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from core.settings import Settings, get_settings
from voiceorder.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
OUR_IMAGE = "voiceorder:"

# Values compose sets on purpose rather than passing the operator's setting through.
COMPOSE_CHOICES = {
    "DATABASE_URL": "the compose PostgreSQL, with POSTGRES_PASSWORD",
    "STORE_API_URL": "the store-api service on the compose network",
    "STORE_API_MODE": "a server runs the Store API in prod mode",
    "STORE_API_HOST": "listen on the container's interface",
    "STORE_API_PORT": "the port the healthcheck and the other services use",
    "TEMPORAL_ADDRESS": "the temporal service by default, a cluster or Cloud when set",
    "LOG_FORMAT": "JSON logs for a log collector",
    "AUDIOSOCKET_HOST": "listen on the container's interface; published per edge",
    "AUDIOSOCKET_PORT": "each edge its own port (externalMedia names the edge)",
    "AUDIOSOCKET_EXTERNAL_HOST": "where Asterisk reaches each edge",
    "ARI_APP": "each edge its own Stasis app",
    "METRICS_HOST": "scraped on the compose network, never published",
}
_REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return data


def our_services() -> dict[str, dict[str, Any]]:
    services = {
        name: service
        for name, service in compose()["services"].items()
        if str(service.get("image", "")).startswith(OUR_IMAGE)
    }
    assert {"store-api", "worker", "edge-1", "edge-2"} <= set(services)
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {str(k): str(v) for k, v in env.items()}


def default_of(field: str) -> str:
    """A setting's default as compose would spell it ("" for unset)."""
    value = Settings.model_fields[field].default
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def resolved(value: str) -> str:
    """The value compose passes when the operator set nothing (required ones: a stand-in)."""

    def fill(match: re.Match[str]) -> str:
        op, arg = match["op"], match["arg"] or ""
        if op in (":-", "-"):
            return arg
        return "stand-in"  # `:?`: compose refuses to start without it

    return _REFERENCE.sub(fill, value)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no `.env`
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))  # no running `up` to join
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("name", sorted(our_services()))
def test_every_variable_is_a_setting_with_its_own_default(name: str) -> None:
    for key, value in environment(our_services()[name]).items():
        field = key.lower()
        assert field in Settings.model_fields, f"{name}: {key} is not a setting"
        references = list(_REFERENCE.finditer(value))
        for ref in references:
            other = ref["name"].lower()
            if other == field and ref["op"] in (":-", "-") and key not in COMPOSE_CHOICES:
                assert ref["arg"] == default_of(field), (
                    f"{name}: {key} defaults to {ref['arg']!r} in compose, "
                    f"{default_of(field)!r} in core/settings.py"
                )
            else:
                assert other not in Settings.model_fields or other == field, (
                    f"{name}: {key} is fed from the setting {ref['name']}"
                )
        passed_through = (
            len(references) == 1 and references[0].span() == (0, len(value))
        ) and references[0]["name"] == key
        if not passed_through:
            assert key in COMPOSE_CHOICES, (
                f"{name}: compose sets {key} itself; add it to COMPOSE_CHOICES saying why, "
                f"or pass the operator's setting through as ${{{key}:-{default_of(field)}}}"
            )


@pytest.mark.parametrize("name", sorted(our_services()))
def test_the_environment_compose_passes_is_accepted(
    name: str, clean_env: pytest.MonkeyPatch
) -> None:
    for key, value in environment(our_services()[name]).items():
        clean_env.setenv(key, resolved(value))
    get_settings()  # raises ConfigurationError naming the variable


@pytest.mark.parametrize("name", sorted(our_services()))
def test_every_command_exists_in_the_cli(name: str) -> None:
    command = [str(part) for part in our_services()[name]["command"]]
    cmd: click.Command = main
    ctx = click.Context(main, info_name="voiceorder")
    args = list(command)
    while isinstance(cmd, click.Group):
        assert args, f"{name}: {command} names a group, not a command"
        found = cmd.get_command(ctx, args[0])
        assert found is not None, f"{name}: no command {args[0]!r} in {command}"
        ctx = click.Context(found, info_name=args[0], parent=ctx)
        cmd, args = found, args[1:]
    cmd.make_context(ctx.info_name, args, parent=ctx.parent)  # parses the options


def _metrics_port(service: dict[str, Any]) -> int:
    command = [str(part) for part in service["command"]]
    return int(command[command.index("--metrics-port") + 1])


def test_edges_have_their_own_ports_and_apps_and_prometheus_scrapes_them_all() -> None:
    services = our_services()
    edges = {name: s for name, s in services.items() if s["command"][0] == "edge"}
    assert len(edges) >= 2
    ports, apps = set(), set()
    for name, edge in edges.items():
        env = {k: resolved(v) for k, v in environment(edge).items()}
        port = env["AUDIOSOCKET_PORT"]
        assert env["AUDIOSOCKET_EXTERNAL_HOST"].endswith(f":{port}"), name
        assert any(str(p).endswith(f":{port}:{port}") for p in edge["ports"]), name
        health = " ".join(edge["healthcheck"]["test"])
        assert f":{_metrics_port(edge)}/health" in health, name
        ports.add(port)
        apps.add(env["ARI_APP"])
    assert len(ports) == len(apps) == len(edges), "every edge its own port and Stasis app"

    config = yaml.safe_load(PROMETHEUS.read_text("utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for group in jobs["voiceorder-edge"]["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{_metrics_port(edge)}" for name, edge in edges.items()}
    (workers,) = jobs["voiceorder-worker"]["dns_sd_configs"]
    assert workers["names"] == ["worker"] and workers["port"] == _metrics_port(services["worker"])

"""Connecting to Temporal the same way everywhere: one data converter for pydantic models."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import Settings

DATA_CONVERTER = pydantic_data_converter


async def connect(settings: Settings, *, address: str | None = None) -> Client:
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
    )


def ui_link(settings: Settings, workflow_id: str) -> str:
    host = settings.temporal_address.rsplit(":", 1)[0]
    return (
        f"http://{host}:{settings.temporal_ui_port}/namespaces/"
        f"{settings.temporal_namespace}/workflows/{workflow_id}"
    )

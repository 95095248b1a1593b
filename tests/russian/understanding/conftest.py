"""The models load once per test session, as once per worker process in production."""

from __future__ import annotations

import pytest

from russian.understanding import warm_up


@pytest.fixture(scope="session", autouse=True)
def _models_loaded() -> None:
    warm_up()

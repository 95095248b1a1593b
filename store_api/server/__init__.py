"""The reference Store API server (aiohttp + asyncpg)."""

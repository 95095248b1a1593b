"""PostgreSQL helpers shared by the bot and the reference Store API."""

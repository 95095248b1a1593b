"""Running the local stack's servers: embedded PostgreSQL, the Temporal dev server, our services."""

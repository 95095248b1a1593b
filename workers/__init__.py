"""The Temporal worker process: runs CallWorkflow and every activity."""

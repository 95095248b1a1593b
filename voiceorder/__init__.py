"""voiceorder: the shared core — settings, logging, the CLI and the local stack."""

"""Tests for the AudioSocket edge groundwork."""

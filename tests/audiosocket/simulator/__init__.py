"""Tests for the caller simulator."""

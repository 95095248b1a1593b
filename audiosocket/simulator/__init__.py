"""Caller-side tools: play Asterisk against the edge (AudioSocket peer, fake ARI, simulator)."""

"""The Asterisk AudioSocket edge: wire codec, 20 ms send clock and the TCP server."""

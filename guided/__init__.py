"""The guided agent: a directed Russian dialog (one question at a time, narrow answers) that
reaches the same tools as the LLM through the same workflow guards; no LLM needed.

- `memory.py` — what it remembers between turns (`GuidedMemory`, the pending `Question`)
- `policy.py` — the state machine: `decide(turn, memory)` → a line or a tool, new memory
- `lines.py` — what it says
"""

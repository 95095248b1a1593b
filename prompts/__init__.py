"""Russian prompts, versioned with the code. `render_system_prompt` fills in the caller."""

from prompts.system import (
    CONTINUE_AFTER_CUT,
    PROMPT_VERSION,
    CallerContext,
    keypad_line,
    render_system_prompt,
)

__all__ = [
    "CONTINUE_AFTER_CUT",
    "PROMPT_VERSION",
    "CallerContext",
    "keypad_line",
    "render_system_prompt",
]

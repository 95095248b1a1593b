"""Russian for the ear: numbers, money, dates, order numbers and read-backs as TTS-ready words.

Everything here is a pure function of its arguments, so workflow code may call it: no clock
(callers pass `today`), no randomness, no environment, and no I/O except pymorphy3 reading its
dictionaries once per process.

Temporal's sandbox forbids that read (`open`) inside a workflow and would re-import the
package for every run. So a worker calls `warm_up()` before it starts, and workflow modules
import this package passed through::

    with workflow.unsafe.imports_passed_through():
        from russian.readback import readback

(tests/russian/test_sandbox.py runs exactly that in a real sandbox.)

Modules: `numbers` (cardinals, ordinals, agreement), `money`, `dates`, `order_numbers`,
`phones`, `products`, `addresses`, `text` (`normalise_for_tts`, `split_sentences`),
`readback` (read-back, status, overview) and `sms`.
"""

from russian._morph import warm_up

__all__ = ["warm_up"]

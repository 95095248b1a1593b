"""A workflow that speaks Russian, to run russian inside Temporal's sandbox.

This is how workflow code should import the package: passed through, so the sandbox does not
re-import it (and pymorphy3's dictionaries, loaded once by `warm_up()` at worker start, are
shared instead of being read from disk inside a workflow, which the sandbox forbids).
"""

from __future__ import annotations

import datetime as dt

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from russian.readback import orders_overview, readback, status_sentence
    from russian.sms import confirmation_sms
    from russian.text import normalise_for_tts
    from tests.russian.factories import courier, item, order, summary


def speech(today: dt.date) -> list[str]:
    """Everything the package says about one order; the same inside and outside a workflow."""
    draft = order(
        [item("Гречка ядрица 900 г", 2, 12990), item("Молоко 3,2% 1 л", 21, 8990)],
        courier(date=today + dt.timedelta(days=3)),
        delivery_cost=29900,
    )
    return [
        *readback(draft, today),
        status_sentence(summary(estimated_date=today + dt.timedelta(days=1)), today),
        *orders_overview([summary("100245"), summary("102045")], today),
        confirmation_sms(draft),
        normalise_for_tts("Итого 2 599 ₽, доставка 30.11, ул. Тверская, д. 7 🚚"),
    ]


@workflow.defn
class RussianSpeechWorkflow:
    @workflow.run
    async def run(self, today: str) -> list[str]:
        # `today` comes in as an argument: the package never reads the clock.
        return speech(dt.date.fromisoformat(today))

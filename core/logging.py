"""structlog setup shared by every process: console lines for people, JSON for machines.

Context (request id, call id, workflow id) is bound with `structlog.contextvars` and appears
on every line logged while it is bound.
"""

from __future__ import annotations

import logging
import sys

import structlog

from core.settings import LogFormat, Settings


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if settings.log_format is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that use the standard logging module go to the same stream and level.
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(level, floor))


# Libraries whose lower levels carry request URLs and bodies or Temporal payloads — phone
# numbers, what callers said, tokens (SEC4): never below these, whatever LOG_LEVEL says.
LIBRARY_FLOORS: dict[str, int] = {
    "aiohttp.access": logging.WARNING,
    "httpx": logging.WARNING,  # INFO: "HTTP Request: GET …/orders/search?phone=…"
    "httpcore": logging.WARNING,
    "openai": logging.INFO,  # DEBUG: the request options, messages included
    "temporalio": logging.INFO,  # DEBUG: activity tasks and completions with payloads
}


def library_level(logger_name: str, level: int) -> int:
    """The level a standard-library logger runs at under LOG_LEVEL=`level`."""
    floors = [
        floor
        for name, floor in LIBRARY_FLOORS.items()
        if logger_name == name or logger_name.startswith(name + ".")
    ]
    return max([level, *floors])

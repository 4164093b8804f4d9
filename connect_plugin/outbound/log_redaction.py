"""Secrets masked in log records, whoever logs them.

The filter rewrites a record with the process-wide registry's secrets masked
(:func:`.redact.known_secrets`), and ``install_log_redaction`` puts it where
records of the ``connect_plugin``, ``urllib3`` and ``requests`` loggers pass:
urllib3 logs full request URLs, query string included, at DEBUG.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from .redact import Redactor, known_secrets


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and formatted traceback) with secrets masked.

    ``redactor_getter`` returns the :class:`Redactor` to use (default: the
    process-wide registry). The filter never drops a record.
    """

    def __init__(self, redactor_getter: Callable[[], Redactor | None] | None = None):
        super().__init__()
        self._getter = redactor_getter or known_secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            redactor = self._getter()
        except Exception:  # pragma: no cover - a broken getter must not break logging
            return True
        if redactor is None or not len(redactor):
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = redactor.redact(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            except Exception:  # pragma: no cover
                record.exc_text = None
        if record.exc_text:
            record.exc_text = redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_INSTALL_LOCK = threading.Lock()
LOGGER_PREFIXES = ("connect_plugin", "urllib3", "requests")


def log_filter() -> RedactingFilter:
    """The filter ``install_log_redaction`` installs (one per process)."""
    return _FILTER


def _install_record_factory() -> None:
    """Wrap the log record factory so records of the ``connect_plugin``,
    ``urllib3`` and ``requests`` loggers are redacted when created, whichever
    child logger makes them and whenever it was created."""
    if getattr(logging.getLogRecordFactory(), "_connect_redacting", False):
        return
    previous = logging.getLogRecordFactory()
    prefixes = tuple(LOGGER_PREFIXES)

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name or ""
        if name.startswith(prefixes) and (
            name in prefixes or any(name.startswith(p + ".") for p in prefixes)
        ):
            _FILTER.filter(record)
        return record

    factory._connect_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def install_log_redaction() -> None:
    """Add the redacting filter to the ``connect_plugin``, ``urllib3`` and
    ``requests`` loggers and every child logger that exists now (a logger's
    filters do not run for records propagated from its children), to the root
    logger's handlers and to ``logging.lastResort``; and wrap the record factory
    so child loggers created later are covered too. Idempotent; cheap enough to
    call again after new loggers or handlers appear."""
    with _INSTALL_LOCK:
        _install_record_factory()
        targets: list[logging.Filterer] = []
        for prefix in LOGGER_PREFIXES:
            targets.append(logging.getLogger(prefix))
        for name, obj in list(logging.root.manager.loggerDict.items()):
            if isinstance(obj, logging.Logger) and any(
                name.startswith(prefix + ".") for prefix in LOGGER_PREFIXES
            ):
                targets.append(obj)
        targets.extend(logging.getLogger().handlers)
        if logging.lastResort is not None:
            targets.append(logging.lastResort)
        for target in targets:
            if _FILTER not in target.filters:
                target.addFilter(_FILTER)

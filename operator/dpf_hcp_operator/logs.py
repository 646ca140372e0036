"""Structured logs: one JSON object per line, secrets redacted on the way out. Everything the
operator prints goes this way: its own records, other libraries' loggers, Python warnings (each
distinct one once) and exceptions no thread caught."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from types import TracebackType
from typing import Any

# key=value or "key": "value" where the key names a credential. A quoted value without its closing
# quote is taken to the end of the text: redacted whole, and one scan of the text however many keys
# it repeats (text from the API, a hosted cluster's error or a CSR's name, is the attacker's).
_SECRET = re.compile(
    r"""(?i)(["']?(?:token|password|passwd|secret|auth|authorization|bearer|dockerconfigjson|"""
    r"""client-key-data|id_rsa|kubeconfig)["']?\s*[:=]\s*)("[^"]*(?:"|\Z)|'[^']*(?:'|\Z)|[^\s,}]+)"""
)
# A PEM block to its END line, or to the end of the text when there is none (a cut or a forged one):
# one scan of the text, however many BEGIN lines it repeats.
_PEM = re.compile(r"-----BEGIN [A-Z ]{1,64}-----.*?(?:-----END [A-Z ]{1,64}-----|\Z)", re.S)
MAX_FIELD = 16384  # characters of a log line's message or field kept: the rest is cut, before redaction


_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{16,}=*")  # an Authorization value


def redact(text: str) -> str:
    # PEM blocks first: a credential's value that holds one is then redacted in whole either way.
    return _SECRET.sub(r"\1[REDACTED]", _SCHEME.sub(r"\1\2[REDACTED]", _PEM.sub("[REDACTED PEM]", text)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _cut(record.getMessage()),
        }
        entry.update({key: _cut(value) for key, value in getattr(record, "fields", {}).items()})
        if record.exc_info:
            entry["error"] = _cut(self.formatException(record.exc_info))
        return redact(json.dumps(entry, default=str))


def _cut(value: Any) -> Any:
    """A text longer than MAX_FIELD, cut and said so; anything else as it is (a field's value that is
    not text is the operator's own: counts, names it chose, lists of them)."""
    if isinstance(value, str) and len(value) > MAX_FIELD:
        return f"{value[:MAX_FIELD]}... [{len(value) - MAX_FIELD} characters cut]"
    return value


class WarningOnce(logging.Filter):
    """For the ``py.warnings`` logger: a warning's first line (where, category, text) only, and each
    distinct warning once. urllib3 asks for its security warnings every time (an "always" filter),
    e.g. InsecureRequestWarning on every request to a server whose certificate is not verified."""

    MAX_REMEMBERED = 1024  # distinct warnings kept; past that the memory starts over

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        text = (record.getMessage().strip().splitlines() or [""])[0]
        with self._lock:
            if text in self._seen:
                return False
            if len(self._seen) >= self.MAX_REMEMBERED:
                self._seen.clear()
            self._seen.add(text)
        record.msg, record.args = text, None
        return True


WARNINGS = logging.getLogger("py.warnings")
_WARNING_ONCE = WarningOnce()


def _uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None, thread: str) -> None:
    logging.getLogger("dpf_hcp_operator").critical(
        "uncaught exception", exc_info=(kind, value, tb), extra={"fields": {"thread": thread}}
    )


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # as threading's own hook: a thread's sys.exit() is no error
        return
    _uncaught(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback, getattr(args.thread, "name", ""))


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}.get(level, logging.INFO))
    logging.captureWarnings(True)
    if _WARNING_ONCE not in WARNINGS.filters:
        WARNINGS.addFilter(_WARNING_ONCE)
    sys.excepthook = lambda kind, value, tb: _uncaught(kind, value, tb, threading.current_thread().name)
    threading.excepthook = _uncaught_in_thread


def log(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})

"""Structured logs: one JSON object per line, secrets redacted on the way out."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

# key=value or "key": "value" where the key names a credential.
_SECRET = re.compile(
    r"""(?i)(["']?(?:token|password|passwd|secret|auth|authorization|bearer|dockerconfigjson|"""
    r"""client-key-data|id_rsa|kubeconfig)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}]+)"""
)
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


def redact(text: str) -> str:
    return _PEM.sub("[REDACTED PEM]", _SECRET.sub(r"\1[REDACTED]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}.get(level, logging.INFO))


def log(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})

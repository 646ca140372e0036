# Copyright: dpf_hcp.provisioner contributors
# Apache License 2.0
"""Fields read out of API objects with JMESPath.

The expressions are ours, constants compiled once; the data is what the API returned, which may
have any shape (a list where a mapping belongs, a number where a string does). A field that is not
there, or not of the wanted type, is the default: never an exception, never a guess.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ansible_collections.dpf_hcp.provisioner.plugins.module_utils.k8s.libraries import require

try:
    import jmespath
except ImportError as exc:  # named in the task's error when a query is first made (see libraries.py)
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Any:
    require(IMPORT_ERROR)
    return jmespath.compile(expression)


def field(obj: Any, expression: str, kind: type | tuple[type, ...] = object, default: Any = None) -> Any:
    """``expression`` evaluated on ``obj``, when the result is a ``kind``; else ``default``."""
    value = _compiled(expression).search(obj)
    return value if value is not None and isinstance(value, kind) else default


def text(obj: Any, expression: str) -> str:
    """A string field, or "" when it is missing or not a string."""
    return field(obj, expression, str, "")


def items(obj: Any, expression: str) -> list[dict[str, Any]]:
    """The mappings of a list field (entries of another type are passed over), or []."""
    return [entry for entry in field(obj, expression, list, []) if isinstance(entry, dict)]

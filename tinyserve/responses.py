"""The app's answers as plain data: ``(status, headers, body)``, built before WSGI sees them.

Shared by the router (``wsgi``) and the guard (``security``), which answers some requests
before routing. Standard library only.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

JSON_TYPE = "application/json"

Headers = List[Tuple[str, str]]
Response = Tuple[int, Headers, bytes]


def json_response(status: int, body: bytes, extra: Iterable[Tuple[str, str]] = ()) -> Response:
    return status, [("Content-Type", JSON_TYPE), *extra], body

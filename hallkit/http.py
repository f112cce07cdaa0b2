"""Reading an HTTP/1.x request head: bytes or header pairs in, a `Head` or a `Refused` out.

Pure (no socket): the console's web server (monitor/web/server.py, its own reader thread) and
the clocks' PUSH server (devices/zkpush.py, on `http.server`) frame a request body by the same
rules, each with its own `max_body`: a body needs one Content-Length of ASCII digits, no
Transfer-Encoding (411), and at most `max_body` bytes (413). Each server words the refusal
in its own answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_HEAD = 32768  # request line and headers
MAX_HEADERS = 100
HEAD_END = re.compile(rb"\r?\n\r?\n")  # the blank line after the headers
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LINE = re.compile(r"\r?\n")


@dataclass(frozen=True, slots=True)
class Refused:
    """A request that is not one: the status to answer and why."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Head:
    method: str
    target: str
    version: str
    headers: Mapping[str, str]  # names in lower case; the first of a repeated name wins
    length: int

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip() for t in self.headers.get("connection", "").lower().split(",")}
        return "close" not in tokens if self.version == "HTTP/1.1" else "keep-alive" in tokens


def parse_head(raw: bytes, max_body: int) -> Head | Refused:
    """The request line and headers (without the blank line), or the refusal to answer."""
    line, *lines = _LINE.split(raw.decode("latin-1"))
    parts = line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1].startswith("/"):
        return Refused(400, "bad request line")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        return Refused(505, "HTTP/1.0 or HTTP/1.1 only")
    if len(lines) > MAX_HEADERS:
        return Refused(431, f"more than {MAX_HEADERS} headers")
    pairs = []
    for h in lines:
        name, colon, value = h.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            return Refused(400, "bad header line")
        pairs.append((name, value))
    length = body_length(pairs, max_body)
    if isinstance(length, Refused):
        return length
    headers = dict(reversed([(k.lower(), v.strip(" \t")) for k, v in pairs]))
    return Head(method, target, version, headers, length)


def body_length(headers: Iterable[tuple[str, str]], max_body: int) -> int | Refused:
    """How many body bytes follow a head with these (name, value) pairs, repeats included."""
    lengths = set()
    for name, value in headers:
        key = name.lower()
        if key == "transfer-encoding":
            return Refused(411, "a body needs a Content-Length")
        if key == "content-length":
            lengths.add(value.strip(" \t"))
    text = lengths.pop() if len(lengths) == 1 else "0" if not lengths else ""
    if not text.isascii() or not text.isdigit():
        return Refused(400, "bad Content-Length")
    if int(text) > max_body:
        return Refused(413, f"body over {max_body} bytes")
    return int(text)

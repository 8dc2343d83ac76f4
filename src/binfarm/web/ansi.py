"""A build log's lines as HTML: escaped, with Portage's ANSI colours as CSS classes.

Each line starts with no colour (as Buildbot's log viewer does), so any line boundary is a
place a stream may resume; a carriage return keeps what follows it, as a terminal shows
a progress line.
"""

from __future__ import annotations

import html
import re

__all__ = ["to_html"]

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COLOURS = {30: "black", 31: "red", 32: "green", 33: "yellow", 34: "blue", 35: "magenta",
            36: "cyan", 37: "white"}


def to_html(text: str) -> str:
    *lines, last = text.split("\n")  # not splitlines: a lone \r is no line's end here
    return "".join(_line(line + "\n") for line in lines) + (_line(last) if last else "")


def _line(line: str) -> str:
    end = "\n" if line.endswith("\n") else ""
    body = line.rstrip("\r\n").rsplit("\r", 1)[-1]
    out: list[str] = []
    classes: list[str] = []
    position = 0
    for match in _SGR.finditer(body):
        out.append(_text(body[position:match.start()], classes))
        position = match.end()
        for code in (int(c) for c in (match.group(1) or "0").split(";") if c.isdigit()):
            if code == 0:
                classes = []
            elif code == 39:
                classes = [c for c in classes if not c.startswith("fg-")]
            elif code == 1:
                classes.append("bold")
            elif code in _COLOURS:
                classes = [c for c in classes if not c.startswith("fg-")] + \
                    [f"fg-{_COLOURS[code]}"]
    out.append(_text(body[position:], classes))
    return "".join(out) + end


def _text(text: str, classes: list[str]) -> str:
    text = html.escape(_OTHER_ESCAPES.sub("", text), quote=False)
    if not text or not classes:
        return text
    return f'<span class="{" ".join(classes)}">{text}</span>'

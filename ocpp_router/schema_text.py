"""The descriptions of the official OCPP JSON schemas as plain text for people.

The schemas are generated from the specification's model: a 2.0.1 description starts with
the element's CIM name and URN (`Charging_ Profile. Stack_ Level. Counter` then
`urn:x-oca:ocpp:uid:1:569230`), and 2.0.1/2.1 texts carry AsciiDoc markup, HTML-escaped
(`&lt;&lt;transactioneventrequest, TransactionEventRequest&gt;&gt;`, `*(2.1)*`, `_limit_`,
`image::...[]`, a trailing ` +` for a line break). Forms and API docs show what is left:
the sentences of the specification. No Django imports.
"""

from __future__ import annotations

import html
import re

_URN = re.compile(r"^urn:x-[\w-]+:[\w:.-]*$")
_IMAGE = re.compile(r"^image::\S*\[[^\]]*\]$")
_XREF = re.compile(r"<<([^,>]+)(?:,\s*([^>]+))?>>")
_STRONG = re.compile(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])")
_EMPHASIS = re.compile(r"(?<!\w)_([^_\s](?:.*?[^_\s])?)_(?!\w)")
_CODE = re.compile(r"`([^`]+)`")
_SPACE = re.compile(r"\s+")


def readable(description: str | None, limit: int | None = None) -> str:
    """`description` without the CIM header, URNs and markup, on one line; at most `limit`
    characters (cut at a word, with an ellipsis)."""
    if not description:
        return ""
    lines = [line.strip() for line in html.unescape(description).splitlines()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _URN.match(line) or _IMAGE.match(line):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _URN.match(following):
            continue  # the CIM name above a URN
        kept.append(line.removesuffix("+").rstrip())
    text = " ".join(kept)
    text = _XREF.sub(lambda m: (m[2] or m[1]).strip(), text)
    text = _CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _SPACE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
        text = cut + "…"
    return text

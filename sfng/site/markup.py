"""Plain text and a small Markdown subset (headings, lists, paragraphs, code) as escaped HTML."""

from __future__ import annotations

import html
import re

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_BULLET = re.compile(r"^\s*[-*]\s+")


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = _INLINE_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", out)


def markdown(text: str) -> str:
    """``text`` (Markdown: #-headings, - and * lists, ``` fences, paragraphs) as HTML."""
    out, para, in_list, in_code = [], [], False, False

    def flush():
        nonlocal in_list
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for line in text.splitlines():
        if line.strip().startswith("```"):
            if in_code:
                out.append("</code></pre>")
                in_code = False
            else:
                flush()
                out.append("<pre><code>")
                in_code = True
            continue
        if in_code:
            out.append(html.escape(line, quote=False))
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            flush()
            level = min(6, len(m.group(1)) + 1)   # the page's own title is the <h1>
            out.append(f"<h{level}>{_inline(m.group(2).strip())}</h{level}>")
        elif re.match(r"^\s*[-*]\s+", line):
            if para:
                out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
                para.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            item = _inline(_BULLET.sub("", line))
            out.append(f"<li>{item}</li>")
        elif not line.strip():
            flush()
        elif in_list and line.startswith(("  ", "\t")):
            out[-1] = out[-1][:-5] + " " + _inline(line.strip()) + "</li>"
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            para.append(line.strip())
    flush()
    if in_code:
        out.append("</code></pre>")
    return "\n".join(out)


def preformatted(text: str) -> str:
    """``text`` as an escaped ``<pre>`` block (READMEs are fixed-width key = value text)."""
    return f"<pre>{html.escape(text, quote=False)}</pre>"

"""Survey README metadata: the ``KEYWORD = VALUE`` header of ``<SURVEY>_README.txt``.

The specification: lines before a line of exactly ``---`` are ``KEYWORD = VALUE`` where KEYWORD
is a FITS keyword and VALUE is cast to its type; the rest of the file is prose.  A README
without a ``---`` line carries no metadata.  Values given here apply to every file of the
survey folder, and a file's own header wins over them (see :mod:`sfng.header`).

Reading rules (documented in ``docs/readme-metadata.md``):

* blank lines and lines starting with ``#`` in the header block are ignored (an sfng
  extension, used by the template for keys left unset);
* the separator is ``=`` with surrounding spaces (`` = ``); the first ``=`` splits the line;
* values: ``T``/``F`` are booleans, integers and floats (``1e-3``, Fortran ``1.0D-3``) are
  numbers, anything else is a string; surrounding single or double quotes are stripped
  (a quoted value is always a string, and ``''`` inside single quotes is one quote, as in FITS);
* keywords must be legal FITS keywords: 1-8 characters of ``A-Z 0-9 - _``;
* a keyword given twice is an error.

Every error is a :class:`~sfng.errors.ReadmeError` naming ``file:line`` and the offending text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReadmeError

SEPARATOR = "---"
#: Largest README read (bytes; characters for text given directly): a survey README is a page
#: or two of text, and a bigger file is refused before it is read into memory.
MAX_README_BYTES = 1 << 20
KEYWORD_RE = re.compile(r"^[A-Z0-9_-]{1,8}$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")

#: Keywords the specification names, with the template's explanation of each.
TEMPLATE_KEYS = [
    ("BUNIT", "K", "brightness unit of the data (K, Jy/beam, MJy/sr, ...)"),
    ("BMAJ", "4.1667e-3", "beam major axis FWHM in degrees"),
    ("BMIN", "4.1667e-3", "beam minor axis FWHM in degrees"),
    ("BPA", "0.0", "beam position angle in degrees east of north"),
    ("RESTFRQ", "1.420405752e9", "rest frequency of the line in Hz"),
    ("SPECRES", "5000.0", "spectral resolution in the units of the spectral axis"),
    ("CUNIT3", "m/s", "unit of axis 3 (CUNITn for any axis n)"),
    ("MAPTYPE", "HI", "species / transition / type, e.g. CO(1-0), HI, CONTINUUM"),
    ("REPUNC", "1.5e-1", "representative uncertainty (1 sigma) in BUNIT"),
    ("PSFTYPE", "GAUSSIAN", "PSF description for convolution: GAUSSIAN, SPIRE250, ..."),
]


@dataclass
class Readme:
    """A parsed survey README.

    Attributes
    ----------
    path : Path or None
    metadata : dict
        Keyword -> cast value, in file order.
    lines : dict
        Keyword -> 1-based line number where it was given.
    prose : str
        Everything after the ``---`` line (the whole text when there is none).
    has_metadata_block : bool
        Whether the file has a ``---`` line.
    """

    path: Path | None = None
    metadata: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)
    prose: str = ""
    has_metadata_block: bool = False


def cast_value(text: str):
    """Cast a README value string to bool, int, float or str (quotes stripped)."""
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        inner = s[1:-1]
        return inner.replace("''", "'") if s[0] == "'" else inner
    if s == "T":
        return True
    if s == "F":
        return False
    if _INT_RE.match(s):
        return int(s)
    if _FLOAT_RE.match(s):
        return float(s.replace("D", "E").replace("d", "e"))
    return s


def format_value(value) -> str:
    """The README text of a value, such that :func:`cast_value` gives it back."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} cannot be written as a README value")
        return repr(value)
    if not isinstance(value, str):
        raise TypeError(f"README values are bool, int, float or str, not {type(value).__name__}")
    if "\n" in value or "\r" in value:
        raise ValueError("README values cannot span lines")
    if value == "" or cast_value(value) != value or value != value.strip():
        return "'" + value.replace("'", "''") + "'"
    return value


def check_keyword(key: str) -> str | None:
    """Why ``key`` is not a legal FITS keyword, or None when it is."""
    if not key:
        return "empty keyword"
    if len(key) > 8:
        return f"keyword longer than 8 characters ({len(key)})"
    if key != key.upper() and KEYWORD_RE.match(key.upper()):
        return f"FITS keywords are upper case (write {key.upper()})"
    if not KEYWORD_RE.match(key):
        return "a FITS keyword holds only A-Z, 0-9, '-' and '_'"
    return None


def parse_text(text: str, path=None) -> Readme:
    """Parse README text; errors name ``path:line``.

    Text longer than :data:`MAX_README_BYTES` characters is refused (ReadmeError)."""
    if len(text) > MAX_README_BYTES:
        raise ReadmeError(path or "<README>", 0, "", f"{len(text)} characters, more than the "
                          f"{MAX_README_BYTES} a survey README may hold")
    lines = text.splitlines()
    try:
        sep = next(i for i, line in enumerate(lines) if line.rstrip("\r") == SEPARATOR)
    except StopIteration:
        return Readme(path=Path(path) if path else None, prose=text)
    out = Readme(path=Path(path) if path else None, has_metadata_block=True,
                 prose="\n".join(lines[sep + 1:]) + ("\n" if text.endswith("\n") else ""))
    where = path or "<README>"
    for i, raw in enumerate(lines[:sep], start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ReadmeError(where, i, raw, "expected KEYWORD = VALUE (no '=' found)")
        key, _, value = line.partition("=")
        key = key.strip()
        why = check_keyword(key)
        if why:
            raise ReadmeError(where, i, raw, f"illegal FITS keyword {key!r}: {why}")
        if not value.strip():
            raise ReadmeError(where, i, raw, f"no value given for {key}")
        if key in out.metadata:
            raise ReadmeError(where, i, raw, f"{key} is already given on line {out.lines[key]}")
        out.metadata[key] = cast_value(value)
        out.lines[key] = i
    return out


def read_readme(path) -> Readme:
    """Read and parse a survey README file.

    Never reads more than :data:`MAX_README_BYTES` (+1) bytes: a bigger file (or a device that
    never ends) is refused with a ReadmeError, quickly and in bounded memory."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_README_BYTES + 1)
    except OSError as exc:
        raise ReadmeError(path, 0, "", f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_README_BYTES:
        raise ReadmeError(path, 0, "", f"larger than {MAX_README_BYTES} bytes (a survey README is "
                          f"a page or two of text: keep long documents in docs/<SURVEY>/)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadmeError(path, line, data[exc.start: exc.start + 8].hex(" "),
                          "not UTF-8 text (byte sequence shown in hex); re-save the file as UTF-8") from exc
    return parse_text(text, path)


def render(metadata: dict, prose: str = "", comments: dict | None = None) -> str:
    """README text for ``metadata`` and ``prose``; ``comments`` maps keys to a trailing ``#`` line."""
    out = []
    for key, value in metadata.items():
        why = check_keyword(key)
        if why:
            raise ValueError(f"illegal FITS keyword {key!r}: {why}")
        out.append(f"{key} = {format_value(value)}")
    out.append(SEPARATOR)
    body = "\n".join(out) + "\n" + prose
    return body if body.endswith("\n") else body + "\n"


def template(survey: str, values: dict | None = None) -> str:
    """A new README for ``survey``: given values set, the other specification keys commented out."""
    values = dict(values or {})
    head = []
    for key, example, meaning in TEMPLATE_KEYS:
        if key in values:
            head.append(f"{key} = {format_value(values.pop(key))}")
        else:
            head.append(f"# {key} = {example}    ({meaning})")
    for key, value in values.items():
        why = check_keyword(key)
        if why:
            raise ValueError(f"illegal FITS keyword {key!r}: {why}")
        head.append(f"{key} = {format_value(value)}")
    prose = f"""{survey}: one-line description of the data set (telescope, tracer, galaxies).

Source: URL where the data were obtained
Citation: Author et al. (YEAR), Journal, Volume, Page (ADS bibcode)
What the files represent, their units, and how they were made.
Caveats and warnings.

(Lines above '---' are FITS keywords that apply to every file in this folder unless a file's own
header gives them; lines starting with '#' there are ignored. See docs/readme-metadata.md.)
"""
    return "\n".join(head) + f"\n{SEPARATOR}\n" + prose


def citation_lines(readme: Readme) -> list[str]:
    """Lines of the prose that look like citations or source URLs (for release notes)."""
    keep = []
    for line in readme.prose.splitlines():
        s = line.strip()
        low = s.lower()
        if low.startswith(("citation", "cite", "reference", "url", "source")) or "et al" in low:
            keep.append(s)
    return keep

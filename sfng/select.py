"""The selection language of ``sfng find``, ``sfng get`` and ``sfng release bundle``.

Three small pieces, all parsed by hand (never ``eval``, never SQL):

* **comparisons** for one quantity: ``'<15'``, ``'<=15'``, ``'>1'``, ``'>=1'``, ``'=7.3'``,
  ``'5..15'``, each number with an optional glued unit (``15arcsec``, ``0.25arcmin``,
  ``15Mpc``, ``1K``, ``2.5kms``) -> :class:`Range`;
* ``--where`` **expressions** over index columns: comparisons, ``and``/``or``/``not``,
  parentheses, units -> :class:`Expr` (a tiny AST evaluated on numpy arrays);
* the :class:`Selection` that the shared CLI options build, and that renders itself back to a
  command line (release notes record the exact selection that made a release).

Units go through :mod:`astropy.units`, imported only when a value's unit differs from the
column's, so the common query path stays light.
"""

from __future__ import annotations


import re
import shlex
from dataclasses import dataclass, fields

from .errors import SfngError

# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------

#: User spellings -> (astropy unit string, physical kind).  Case matters only where it must
#: (``mK`` vs ``MK`` is not a concern here; ``Mpc`` and ``mpc`` both mean megaparsec, since a
#: milliparsec distance to a galaxy is never meant).
UNIT_ALIASES = {
    "arcsec": ("arcsec", "angle"), "arcsecs": ("arcsec", "angle"), "as": ("arcsec", "angle"),
    '"': ("arcsec", "angle"), "asec": ("arcsec", "angle"),
    "arcmin": ("arcmin", "angle"), "arcmins": ("arcmin", "angle"), "amin": ("arcmin", "angle"),
    "'": ("arcmin", "angle"),
    "deg": ("deg", "angle"), "degree": ("deg", "angle"), "degrees": ("deg", "angle"),
    "mpc": ("Mpc", "length"), "kpc": ("kpc", "length"), "pc": ("pc", "length"),
    "k": ("K", "temperature"), "mk": ("mK", "temperature"),
    "kms": ("km/s", "speed"), "km/s": ("km/s", "speed"), "kmps": ("km/s", "speed"),
    "m/s": ("m/s", "speed"),
    "hz": ("Hz", "frequency"), "khz": ("kHz", "frequency"), "mhz": ("MHz", "frequency"),
    "ghz": ("GHz", "frequency"),
    "b": ("byte", "size"), "byte": ("byte", "size"), "bytes": ("byte", "size"),
    "kb": ("kbyte", "size"), "mb": ("Mbyte", "size"), "gb": ("Gbyte", "size"),
}
_KIND_OF_UNIT = {}
for _u, _k in UNIT_ALIASES.values():
    _KIND_OF_UNIT.setdefault(_u.lower(), _k)


def unit_kind(unit: str | None) -> str | None:
    """The physical kind ("angle", "length", ...) of a unit string, or None if unknown."""
    if not unit:
        return None
    hit = UNIT_ALIASES.get(unit.strip().lower())
    return hit[1] if hit else _KIND_OF_UNIT.get(unit.strip().lower())


def canonical_unit(text: str) -> str:
    """Map a user spelling (``kms``, ``Mpc``, ``"``) to an astropy unit string; SfngError if unknown."""
    hit = UNIT_ALIASES.get(text.strip().lower())
    if hit is None:
        known = ", ".join(sorted({a for a in UNIT_ALIASES if a.isalpha()}))
        raise SfngError(f"unknown unit {text!r}; known units: {known}")
    return hit[0]


#: Exact scale factors between the unit spellings the options accept, within each kind (by
#: definition: 1 arcmin = 60 arcsec, 1 Mpc = 1e6 pc ...).  A query converting '0.25arcmin'
#: should not pay 0.3 s for importing astropy.units; every other conversion goes through it.
_SCALE = {
    "arcsec": 1.0, "arcmin": 60.0, "deg": 3600.0,
    "pc": 1.0, "kpc": 1e3, "Mpc": 1e6,
    "mK": 1e-3, "K": 1.0,
    "m/s": 1e-3, "km/s": 1.0,
    "Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9,
    "byte": 1.0, "kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9,
}


def convert(value: float, unit: str, target: str) -> float:
    """``value`` in ``unit`` expressed in ``target``: an exact scale within one kind, else
    astropy.units (imported only then)."""
    if unit == target:
        return value
    same_kind = _KIND_OF_UNIT.get(unit.lower()) == _KIND_OF_UNIT.get(target.lower())
    if unit in _SCALE and target in _SCALE and same_kind:
        return value * _SCALE[unit] / _SCALE[target]
    import astropy.units as u

    return (value * u.Unit(unit)).to_value(u.Unit(target))


# ---------------------------------------------------------------------------------------------
# Comparisons: '<15', '5..15', '>=1K'
# ---------------------------------------------------------------------------------------------

#: Quantities that take a comparison: name -> (column unit, physical kind, what it is).
QUANTITIES = {
    "res": ("arcsec", "angle", "angular resolution (beam FWHM)"),
    "dist": ("Mpc", "length", "the galaxy's adopted distance"),
    "depth": ("K", "temperature", "rms in a 1 km/s channel (or --depth-chan)"),
    "chan": ("km/s", "speed", "channel width"),
    "res_pc": ("pc", "length", "physical resolution at the galaxy's distance"),
    "depth_chan": ("km/s", "speed", "channel width for --depth"),
    "radius": ("arcmin", "angle", "cone radius"),
    "date": ("d", "time", "observation start, MJD in UTC (--date takes dates: parse_date_range)"),
}

_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"^\s*({_NUM})\s*([A-Za-z/\"'][A-Za-z/0-9]*)?\s*$")
_CMP_RE = re.compile(r"^\s*(<=|>=|==|=<|=>|<|>|=)?\s*(.*?)\s*$")
_OPS = {"=<": "<=", "=>": ">=", "==": "="}


def parse_quantity(text: str, unit: str, kind: str, what: str = "value") -> float:
    """A number with an optional glued unit, in ``unit``; SfngError naming ``what`` otherwise."""
    m = _NUMBER_RE.match(text or "")
    if not m:
        raise SfngError(f"{what}: cannot read {text!r} as a number with an optional unit "
                        f"(e.g. 15, 15arcsec, 0.25arcmin, 15Mpc, 1K, 2.5kms)")
    value = float(m.group(1))
    if m.group(2):
        u_text = m.group(2)
        if u_text.strip().lower() not in UNIT_ALIASES:
            same = sorted({a for a, (_, k) in UNIT_ALIASES.items() if k == kind and a.isalpha()})
            raise SfngError(f"{what}: unknown unit {u_text!r}; {kind} units: {', '.join(same)}")
        u = canonical_unit(u_text)
        if unit_kind(u) != kind:
            raise SfngError(f"{what}: {text!r} has unit {u_text!r}, which is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                            f"(expected something like {unit})")
        value = convert(value, u, unit)
    return value


def at_column_precision(values, bound):
    """``(values, bound)`` ready to compare.

    The index stores most numbers in single precision, where a 6.2 arcsec beam is
    6.19999980926: compared with the double 6.2 it would fail ``'>=6.2'``.  So a
    single-precision column is compared with its bound rounded to single precision too;
    anything else as doubles.
    """
    import numpy as np

    v = np.asarray(values)
    if v.dtype.kind == "f" and v.dtype.itemsize == 4:
        v = v.astype(np.float32, copy=False)   # native byte order (FITS columns are big-endian)
        return v, None if bound is None else np.float32(bound)
    return v.astype(float, copy=False), bound


@dataclass(frozen=True)
class Range:
    """An interval test on one quantity, in the quantity's unit.

    ``text`` keeps what the user wrote so the selection renders back unchanged.
    """

    lo: float | None = None
    hi: float | None = None
    lo_incl: bool = True
    hi_incl: bool = True
    text: str = ""

    def mask(self, values):
        """Boolean mask over a numpy array; unknown values (NaN) never pass."""
        import numpy as np

        v, lo = at_column_precision(values, self.lo)
        hi = at_column_precision(v, self.hi)[1]
        with np.errstate(invalid="ignore"):
            m = np.isfinite(v)
            if lo is not None:
                m &= (v >= lo) if self.lo_incl else (v > lo)
            if hi is not None:
                m &= (v <= hi) if self.hi_incl else (v < hi)
        return m

    def accepts(self, value) -> bool:
        return bool(self.mask([value])[0])

    def __str__(self):
        return self.text


def parse_date_range(text: str) -> Range:
    """``--date``: a comparison of the observation start (``mjd_obs``, MJD in UTC) with a date.

    ``'>2015-01-01'``, ``'<=2015-06-30T12:00'``, ``'2015..2016'`` (years: their first days),
    ``'>MJD57000'``; see :func:`sfng.obstime.parse_date`.  The Range is in MJD (UTC)."""
    from .obstime import parse_date

    raw = (text or "").strip()
    hint = "write e.g. --date '>2015-01-01', '<=2015-06-30T12:00', 2015-01-01..2016-01-01 or '>MJD57000'"
    if not raw:
        raise SfngError(f"--date: empty comparison; {hint}")
    if ".." in raw:
        a, _, b = raw.partition("..")
        if not a.strip() or not b.strip():
            raise SfngError(f"--date {raw!r}: a range needs both ends; {hint}")
        lo, hi = parse_date(a, f"--date {raw!r}"), parse_date(b, f"--date {raw!r}")
        if lo > hi:
            raise SfngError(f"--date {raw!r}: the range is empty")
        return Range(lo, hi, True, True, raw)
    m = _CMP_RE.match(raw)
    op, rest = m.group(1), m.group(2)
    if op is None:
        raise SfngError(f"--date {raw!r}: a bare date is ambiguous; {hint}")
    op = _OPS.get(op, op)
    v = parse_date(rest, f"--date {raw!r}")
    if op == "=":   # the whole day (or the instant given)
        day = len(rest.strip()) <= 10
        return Range(v, v + 1.0 if day else v, True, not day, raw)
    return _compared(op, v, raw)


def parse_range(text: str, quantity: str) -> Range:
    """Parse a comparison for ``quantity`` (a key of :data:`QUANTITIES`).

    ``'<15'``, ``'<=15'``, ``'>1'``, ``'>=1'``, ``'=7.3'``, ``'5..15'`` (inclusive); numbers may
    carry a unit of the right kind (``'<0.25arcmin'``).  A bare number is refused: it is not
    clear whether it is an upper or a lower limit.
    """
    unit, kind, what = QUANTITIES[quantity]
    label = "--" + quantity.replace("_", "-")
    raw = (text or "").strip()
    hint = f"write e.g. {label} '<15', '<=15', '>1' or 5..15 (quotes keep the shell off '<' and '>')"
    if not raw:
        raise SfngError(f"{label}: empty comparison; {hint}")
    if ".." in raw:
        a, _, b = raw.partition("..")
        if not a.strip() or not b.strip():
            raise SfngError(f"{label} {raw!r}: a range needs both ends, e.g. 5..15; {hint}")
        lo = parse_quantity(a, unit, kind, f"{label} {raw!r}")
        hi = parse_quantity(b, unit, kind, f"{label} {raw!r}")
        if lo > hi:
            raise SfngError(f"{label} {raw!r}: the range is empty ({lo:g} > {hi:g} {unit})")
        return Range(lo, hi, True, True, raw)
    m = _CMP_RE.match(raw)
    op, rest = m.group(1), m.group(2)
    if op is None:
        raise SfngError(f"{label} {raw!r}: a bare number is ambiguous; {hint}")
    op = _OPS.get(op, op)
    if not rest:
        raise SfngError(f"{label} {raw!r}: {op!r} needs a number after it; {hint}")
    v = parse_quantity(rest, unit, kind, f"{label} {raw!r}")
    return _compared(op, v, raw)


def _compared(op: str, v: float, raw: str) -> Range:
    """The :class:`Range` of ``<``, ``<=``, ``>``, ``>=`` or ``=`` ``v`` (``raw`` as written)."""
    return {"<": Range(None, v, True, False, raw), "<=": Range(None, v, True, True, raw),
            ">": Range(v, None, False, True, raw), ">=": Range(v, None, True, True, raw),
            "=": Range(v, v, True, True, raw)}[op]


# ---------------------------------------------------------------------------------------------
# --where: tokenizer, parser, evaluator
# ---------------------------------------------------------------------------------------------

class WhereError(SfngError):
    """A --where expression (or a --has/--lacks constraint) that cannot be read.

    The message shows the expression with a caret under the offending token.
    """

    def __init__(self, text: str, pos: int, length: int, reason: str, label: str = "--where"):
        self.text, self.pos, self.reason = text, pos, reason
        caret = " " * (pos + 2) + "^" * max(1, length)
        super().__init__(f"{label}: {reason}\n  {text}\n{caret}")


@dataclass(frozen=True)
class Token:
    kind: str      # num, ident, str, op, lpar, rpar, and, or, not, bool, end
    value: object
    pos: int
    length: int
    unit: str | None = None


_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<unit>[A-Za-z][A-Za-z/0-9]*|"|')?
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<op><=|>=|==|!=|=<|=>|<|>|=)
      | (?P<lpar>\()
      | (?P<rpar>\))
      | (?P<amp>&&?)
      | (?P<bar>\|\|?)
      | (?P<bang>!)
      | (?P<minus>-)
    """, re.X)

_KEYWORDS = {"and": "and", "or": "or", "not": "not", "true": "bool", "false": "bool"}


def tokenize(text: str, label: str = "--where") -> list[Token]:
    """Split an expression into tokens; WhereError (with a caret) on an unknown character."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError(text, pos, 1, f"unexpected character {text[pos]!r}", label)
        kind = m.lastgroup if m.lastgroup != "unit" else "num"
        s = m.group(0)
        if kind == "ws":
            pass
        elif kind == "num":
            unit = m.group("unit")
            out.append(Token("num", float(m.group("num")), pos, len(s), unit))
        elif kind == "ident":
            kw = _KEYWORDS.get(s.lower())
            if kw == "bool":
                out.append(Token("bool", s.lower() == "true", pos, len(s)))
            elif kw:
                out.append(Token(kw, s.lower(), pos, len(s)))
            else:
                out.append(Token("ident", s, pos, len(s)))
        elif kind == "str":
            out.append(Token("str", s[1:-1], pos, len(s)))
        elif kind == "op":
            op = {"==": "=", "=<": "<=", "=>": ">="}.get(s, s)
            out.append(Token("op", op, pos, len(s)))
        elif kind in ("lpar", "rpar"):
            out.append(Token(kind, s, pos, 1))
        elif kind == "amp":
            out.append(Token("and", "and", pos, len(s)))
        elif kind == "bar":
            out.append(Token("or", "or", pos, len(s)))
        elif kind == "bang":
            out.append(Token("not", "not", pos, 1))
        elif kind == "minus":
            out.append(Token("minus", "-", pos, 1))
        pos = m.end()
    out.append(Token("end", None, len(text), 1))
    return out


# -- AST -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    pos: int
    length: int


@dataclass(frozen=True)
class Literal:
    value: object          # float, str or bool
    unit: str | None
    pos: int
    length: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class BoolColumn:
    column: Column


@dataclass(frozen=True)
class Not:
    arg: object


@dataclass(frozen=True)
class And:
    args: tuple


@dataclass(frozen=True)
class Or:
    args: tuple


@dataclass
class Expr:
    """A parsed --where expression: ``.columns`` it reads, ``.evaluate(resolver)`` a mask.

    ``resolver(name) -> (numpy array, unit or None)`` supplies column values for the rows at
    hand; ``text`` is kept for messages and for rendering the selection back.
    """

    text: str
    tree: object
    label: str = "--where"

    @property
    def columns(self) -> list[str]:
        out: list[str] = []

        def walk(n):
            if isinstance(n, Column):
                if n.name not in out:
                    out.append(n.name)
            elif isinstance(n, (And, Or)):
                for a in n.args:
                    walk(a)
            elif isinstance(n, Not):
                walk(n.arg)
            elif isinstance(n, Compare):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, BoolColumn):
                walk(n.column)

        walk(self.tree)
        return out

    def check(self, known: dict) -> None:
        """Raise WhereError (caret under the name) for a column not in ``known`` (name -> unit)."""
        import difflib

        def walk(n):
            if isinstance(n, Column):
                if n.name.lower() not in known:
                    near = difflib.get_close_matches(n.name.lower(), list(known), n=3, cutoff=0.6)
                    hint = f"; did you mean {', '.join(near)}?" if near else \
                        "; `sfng find --columns help` lists the columns"
                    raise WhereError(self.text, n.pos, n.length, f"unknown column {n.name!r}{hint}",
                                     self.label)
            elif isinstance(n, (And, Or)):
                for a in n.args:
                    walk(a)
            elif isinstance(n, Not):
                walk(n.arg)
            elif isinstance(n, Compare):
                walk(n.left)
                walk(n.right)
                _check_units(self, n, known)
            elif isinstance(n, BoolColumn):
                walk(n.column)

        walk(self.tree)

    def evaluate(self, resolver, canon=None):
        """Boolean mask; ``canon(column, text)`` may map a quoted value to the column's
        canonical spelling (a tracer alias to its canonical name)."""
        import numpy as np

        def ev(n):
            if isinstance(n, And):
                m = ev(n.args[0])
                for a in n.args[1:]:
                    m = m & ev(a)
                return m
            if isinstance(n, Or):
                m = ev(n.args[0])
                for a in n.args[1:]:
                    m = m | ev(a)
                return m
            if isinstance(n, Not):
                return ~ev(n.arg)
            if isinstance(n, BoolColumn):
                values, _ = resolver(n.column.name.lower())
                return _as_bool(np.asarray(values))
            if isinstance(n, Compare):
                return _compare(self, n, resolver, canon)
            raise AssertionError(n)

        return ev(self.tree)

    def __str__(self):
        return self.text


def _as_bool(values):
    import numpy as np

    if values.dtype.kind == "b":
        return values
    if values.dtype.kind in "SU":
        low = np.char.lower(np.char.strip(values.astype("U")))
        return np.isin(low, ["t", "true", "1", "yes", "y"])
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(values.astype(float)) != 0


def _check_units(expr: Expr, n: Compare, known: dict) -> None:
    """A number's unit must suit its column (an angle against res, a length against dist), and
    two columns compared must have units that convert (not ``res < depth_k``)."""
    if isinstance(n.left, Column) and isinstance(n.right, Column):
        _column_scale(expr, n, known.get(n.left.name.lower()), known.get(n.right.name.lower()))
    for a, b in ((n.left, n.right), (n.right, n.left)):
        if isinstance(a, Column) and isinstance(b, Literal) and isinstance(b.value, float) and b.unit:
            col_unit = known.get(a.name.lower())
            try:
                u = canonical_unit(b.unit)
            except SfngError:
                raise WhereError(expr.text, b.pos, b.length, f"unknown unit {b.unit!r}", expr.label)
            if not col_unit:
                raise WhereError(expr.text, b.pos, b.length,
                                 f"column {a.name!r} has no unit, so {b.unit!r} cannot apply", expr.label)
            if unit_kind(col_unit) and unit_kind(col_unit) != unit_kind(u):
                raise WhereError(expr.text, b.pos, b.length,
                                 f"unit {b.unit!r} does not fit column {a.name!r} (in {col_unit})",
                                 expr.label)


def _column_scale(expr: Expr, n: Compare, ua, ub) -> float:
    """The factor taking the right column's unit ``ub`` to the left's ``ua`` (1 when either has
    none); WhereError naming both units when they do not convert (an angle against a
    temperature)."""
    if not ua or not ub or ua == ub:
        return 1.0
    try:
        return convert(1.0, ub, ua)
    except Exception:  # noqa: BLE001 - astropy raises several types for units that do not convert
        right = n.right
        raise WhereError(expr.text, right.pos, right.length,
                         f"cannot compare {n.left.name!r} (in {ua}) with {right.name!r} (in {ub}): "
                         f"{ub} does not convert to {ua}", expr.label) from None


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}


def _compare(expr: Expr, n: Compare, resolver, canon=None):
    import numpy as np

    left, right, op = n.left, n.right, n.op
    if isinstance(left, Literal) and isinstance(right, Column):
        left, right, op = right, left, _FLIP[op]
    if isinstance(left, Column) and isinstance(right, Column):
        a, ua = resolver(left.name.lower())
        b, ub = resolver(right.name.lower())
        a, b = np.asarray(a), np.asarray(b)
        text_a, text_b = a.dtype.kind in "SUO", b.dtype.kind in "SUO"
        if text_a != text_b:   # text against numbers: say so, never a numpy type error
            raise WhereError(expr.text, right.pos, right.length,
                             f"column {left.name!r} holds {'text' if text_a else 'numbers'} and "
                             f"{right.name!r} {'text' if text_b else 'numbers'}: they cannot be "
                             f"compared", expr.label)
        if text_a and op not in ("=", "!="):
            raise WhereError(expr.text, right.pos, right.length,
                             f"text columns {left.name!r} and {right.name!r} take only = or !=", expr.label)
        if text_a:   # bytes (the index) and str (a decoded table), as a text literal compares
            a, b = _text_key(a), _text_key(b)
        if ua and ub and ua != ub:
            b = np.asarray(b, dtype=float) * _column_scale(expr, Compare(op, left, right), ua, ub)
        return _apply(op, a, b, expr, n)
    values, col_unit = resolver(left.name.lower())
    values = np.asarray(values)
    lit = right
    if isinstance(lit.value, str):
        if values.dtype.kind not in "SUO":
            raise WhereError(expr.text, lit.pos, lit.length,
                             f"column {left.name!r} holds numbers; compare it with a number", expr.label)
        if op not in ("=", "!="):
            raise WhereError(expr.text, lit.pos, lit.length,
                             f"text column {left.name!r} takes only = or !=", expr.label)
        target = lit.value.strip().lower()
        if canon is not None:
            target = str(canon(left.name.lower(), lit.value)).strip().lower()
        m = _text_key(values) == target
        return m if op == "=" else ~m
    if isinstance(lit.value, bool):
        m = _as_bool(values) == lit.value
        return m if op == "=" else ~m
    if values.dtype.kind in "SU":
        raise WhereError(expr.text, lit.pos, lit.length,
                         f"column {left.name!r} holds text; compare it with a quoted string", expr.label)
    v = lit.value
    if lit.unit:
        try:
            v = convert(v, canonical_unit(lit.unit), col_unit)
        except Exception as exc:  # noqa: BLE001 - astropy raises several types for bad units
            raise WhereError(expr.text, lit.pos, lit.length,
                             f"cannot express {lit.unit!r} in {col_unit!r}, the unit of column "
                             f"{left.name!r} ({exc})", expr.label) from exc
    return _apply(op, *at_column_precision(values, v), expr, n)


def _text_key(values):
    """Text values as compared by --where: decoded, stripped, case folded."""
    import numpy as np

    return np.char.lower(np.char.strip(np.asarray(values).astype("U")))


def _apply(op, a, b, expr, n):
    import numpy as np

    with np.errstate(invalid="ignore"):
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op == "=":
            return a == b
        if op == "!=":
            return a != b
    raise AssertionError(op)


#: Longest --where expression (or --has/--lacks constraint) read, in characters.
MAX_WHERE_LENGTH = 10_000
#: Deepest nesting of parentheses and ``not`` read (a machine-made expression deeper than this
#: is refused with a message; Python's own recursion limit is never reached).
MAX_WHERE_DEPTH = 64


class _Parser:
    def __init__(self, text, label, implicit_and=False):
        self.text, self.label, self.implicit_and = text, label, implicit_and
        self.toks = tokenize(text, label)
        self.i = 0
        self.depth = 0

    def deeper(self, tok):
        """Enter one level of nesting at ``tok`` (a '(' or a 'not'); WhereError past the limit."""
        self.depth += 1
        if self.depth > MAX_WHERE_DEPTH:
            self.fail(f"nested more than {MAX_WHERE_DEPTH} levels deep (parentheses and 'not'); "
                      f"write the expression flatter", tok)

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def fail(self, reason, tok=None):
        tok = tok or self.tok
        raise WhereError(self.text, tok.pos, tok.length, reason, self.label)

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        if self.tok.kind == "end":
            self.fail("empty expression; write e.g. \"res < 15arcsec and depth_k < 1K\"")
        node = self.or_()
        if self.tok.kind != "end":
            if self.tok.kind == "rpar":
                self.fail("unmatched ')'")
            self.fail(f"expected 'and', 'or' or the end of the expression, found {self._show(self.tok)}")
        return node

    def or_(self):
        args = [self.and_()]
        while self.tok.kind == "or":
            self.next()
            args.append(self.and_())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def and_(self):
        args = [self.not_()]
        while True:
            if self.tok.kind == "and":
                self.next()
            elif not (self.implicit_and and self.tok.kind in ("ident", "not", "lpar", "num", "str")):
                break
            args.append(self.not_())
        return args[0] if len(args) == 1 else And(tuple(args))

    def not_(self):
        if self.tok.kind == "not":
            self.deeper(self.next())
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self):
        t = self.tok
        if t.kind == "lpar":
            self.deeper(self.next())
            node = self.or_()
            if self.tok.kind != "rpar":
                self.fail(f"expected ')' to close the '(' at column {t.pos + 1}, found {self._show(self.tok)}")
            self.next()
            self.depth -= 1
            return node
        first = self.operand()
        if self.tok.kind != "op":
            if isinstance(first, Column):
                return BoolColumn(first)
            self.fail(f"expected a comparison operator (<, <=, >, >=, =, !=) after "
                      f"{self.text[t.pos:t.pos + t.length]!r}, found {self._show(self.tok)}")
        parts = []
        left = first
        while self.tok.kind == "op":
            op = self.next().value
            right = self.operand()
            if not isinstance(left, Column) and not isinstance(right, Column):
                self.fail("a comparison needs a column on one side", t)
            parts.append(Compare(op, left, right))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def operand(self):
        t = self.tok
        if t.kind == "ident":
            self.next()
            return Column(t.value, t.pos, t.length)
        if t.kind == "minus" and self.toks[self.i + 1].kind == "num":
            self.next()
            n = self.next()
            return Literal(-n.value, n.unit, t.pos, n.pos + n.length - t.pos)
        if t.kind == "num":
            self.next()
            return Literal(t.value, t.unit, t.pos, t.length)
        if t.kind == "str":
            self.next()
            return Literal(t.value, None, t.pos, t.length)
        if t.kind == "bool":
            self.next()
            return Literal(bool(t.value), None, t.pos, t.length)
        self.fail(f"expected a column name, a number or a quoted string, found {self._show(t)}")

    @staticmethod
    def _show(t: Token) -> str:
        return "the end" if t.kind == "end" else repr(t.value if t.kind != "num" else t.value)


def parse_where(text: str, label: str = "--where", implicit_and: bool = False) -> Expr:
    """Parse a --where expression into an :class:`Expr`; WhereError with a caret on error.

    Grammar (case-insensitive keywords)::

        expr    := and ( ("or" | "|" | "||") and )*
        and     := not ( ("and" | "&" | "&&") not )*
        not     := ("not" | "!") not | atom
        atom    := "(" expr ")" | operand (op operand)+ | column
        operand := column | number[unit] | 'string' | "string" | true | false
        op      := < | <= | > | >= | = | == | !=

    A chain ``5 < res < 15`` means ``5 < res and res < 15``; a bare column is a boolean test
    (``valid``).  With ``implicit_and`` adjacent terms are and-ed (``res<15 depth<1K``).

    Limits: :data:`MAX_WHERE_LENGTH` characters and :data:`MAX_WHERE_DEPTH` levels of nesting;
    past either, a WhereError (never a RecursionError).
    """
    text = str(text)
    if len(text) > MAX_WHERE_LENGTH:
        shown = text[:60]
        raise WhereError(shown + "...", len(shown), 3,
                         f"the expression has {len(text)} characters, more than the "
                         f"{MAX_WHERE_LENGTH} read", label)
    return Expr(text, _Parser(text, label, implicit_and).parse(), label)


# ---------------------------------------------------------------------------------------------
# --has / --lacks: "TRACER [constraints]"
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GalaxyTerm:
    """One ``--has``/``--lacks`` term: a tracer and optional constraints on its files."""

    tracer: str
    where: Expr | None
    text: str


def parse_term(text: str, option: str = "--has") -> GalaxyTerm:
    """``'CO10'`` or ``'CO10 res<15 depth<1K'`` -> :class:`GalaxyTerm` (tracer not yet checked)."""
    raw = (text or "").strip()
    if not raw:
        raise SfngError(f"{option}: empty; write e.g. {option} CO10 or {option} 'CO10 res<15'")
    tracer, _, rest = raw.partition(" ")
    rest = rest.strip()
    where = parse_where(rest, label=f"{option} {raw!r}", implicit_and=True) if rest else None
    return GalaxyTerm(tracer, where, raw)


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------

def parse_angle(text: str, what: str) -> float:
    """An angle in degrees: ``12.5``, ``12.5deg``, ``30arcmin``, or sexagesimal (``03:46:48.5``,
    ``3h46m48.5s`` for an RA when ``what`` starts with 'RA'; ``+68:05:46``), read as
    :mod:`sfng.footprint` reads polygon vertices."""
    s = str(text).strip()
    if _NUMBER_RE.match(s):
        return convert(parse_quantity(s, "deg", "angle", what), "deg", "deg")
    from .footprint import parse_angle

    try:
        return parse_angle(s, what.upper().startswith("RA"))
    except SfngError as exc:
        raise SfngError(f"{what}: {exc}") from exc


def parse_polygon(text: str) -> tuple:
    """``'ra1,dec1 ra2,dec2 ra3,dec3'`` (degrees or sexagesimal, or STC-S ``POLYGON ...``) ->
    ``(ra array, dec array)`` in degrees; SfngError naming --polygon when it is not a simple
    polygon of at least 3 vertices (the rules are :func:`sfng.footprint.parse_polygon`'s)."""
    from .footprint import parse_polygon as parse

    try:
        return parse(str(text))
    except SfngError as exc:
        raise SfngError(f"--polygon: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# The selection
# ---------------------------------------------------------------------------------------------

def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")



@dataclass
class Selection:
    """What ``find``/``get``/``release bundle`` select, as the shared options gave it.

    Quantities are :class:`Range` objects in the units of :data:`QUANTITIES`; ``where`` and the
    ``has``/``lacks`` terms stay text (parsed by :meth:`where_expr`/:meth:`terms`) so that the
    selection renders back exactly (:meth:`to_args`, :meth:`to_command`).
    """

    tracers: tuple = ()
    res: Range | None = None
    dist: Range | None = None
    depth: Range | None = None
    depth_chan: str | None = None        # text, e.g. "2.5kms"
    chan: Range | None = None
    res_pc: Range | None = None
    date: Range | None = None            # observation start (mjd_obs), MJD UTC
    galaxies: tuple = ()
    surveys: tuple = ()
    trees: tuple = ()
    types: tuple = ()
    bunits: tuple = ()
    valid: bool | None = None
    near: str | None = None
    radius: str | None = None            # text, default unit arcmin
    cone: tuple | None = None            # (ra text, dec text, radius text)
    polygon: str | None = None
    moc: str | None = None               # path of a MOC file: footprint overlaps it
    where: str | None = None
    has: tuple = ()
    lacks: tuple = ()
    versions: tuple = ()                 # data versions (--data-version V; '' unversioned)
    all_versions: bool = False           # every version, not only the current ones

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, **kw) -> "Selection":
        """From plain values (texts for quantities), validating everything up front.  An
        unknown keyword is an error that names the nearest known one (``tracer`` ->
        ``tracers``), never silently ignored (which would select everything)."""
        unknown = sorted(set(kw) - BUILD_KEYS)
        if unknown:
            import difflib

            hints = []
            for k in unknown:
                near = difflib.get_close_matches(k, sorted(BUILD_KEYS), n=1, cutoff=0.6)
                hints.append(f"{k!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
            raise SfngError(f"Selection.build: unknown keyword{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(hints)}; known: {', '.join(sorted(BUILD_KEYS))}")
        sel = cls()
        for q in ("res", "dist", "depth", "chan", "res_pc"):
            v = kw.get(q)
            if v is not None and v != "":
                setattr(sel, q, v if isinstance(v, Range) else parse_range(str(v), q))
        if kw.get("date") is not None and kw.get("date") != "":
            v = kw["date"]
            sel.date = v if isinstance(v, Range) else parse_date_range(str(v))
        for name in ("tracers", "galaxies", "surveys", "trees", "types", "bunits", "has", "lacks"):
            v = kw.get(name) or ()
            setattr(sel, name, tuple([v] if isinstance(v, str) else v))
        for name in ("depth_chan", "near", "radius", "polygon", "moc", "where", "valid"):
            v = kw.get(name)
            if v is not None and v != "":
                setattr(sel, name, v)
        if kw.get("cone"):
            sel.cone = tuple(str(x) for x in kw["cone"])
        v = kw.get("versions") or ()
        sel.versions = tuple([v] if isinstance(v, str) else v)
        sel.all_versions = bool(kw.get("all_versions"))
        sel.validate()
        return sel

    def validate(self) -> None:
        """Parse every textual part once so errors surface before any work."""
        if self.depth_chan is not None:
            if self.depth is None:
                raise SfngError("--depth-chan only makes sense with --depth (e.g. --depth '<1K' "
                                "--depth-chan 2.5kms)")
            if self.depth_chan_kms <= 0:
                raise SfngError(f"--depth-chan {self.depth_chan!r}: the channel width must be positive")
        if self.radius is not None and self.near is None:
            raise SfngError("--radius goes with --near NAME (for a position use --cone RA DEC RADIUS)")
        if self.near is not None:
            self.radius_deg  # noqa: B018 - parse now
        if self.cone is not None:
            self.cone_deg  # noqa: B018
        if self.polygon is not None:
            parse_polygon(self.polygon)
        if self.where:
            parse_where(self.where)
        if self.versions and self.all_versions:
            raise SfngError("--version V and --all-versions exclude each other (--all-versions "
                            "already includes every version)")
        self.terms()

    @property
    def depth_chan_kms(self) -> float:
        return parse_quantity(self.depth_chan, "km/s", "speed", "--depth-chan") if self.depth_chan else 1.0

    @property
    def radius_deg(self) -> float:
        text = self.radius if self.radius is not None else "1arcmin"
        r = convert(parse_quantity(text, "arcmin", "angle", "--radius"), "arcmin", "deg")
        if r <= 0:
            raise SfngError(f"--radius {text!r}: must be positive")
        return r

    @property
    def cone_deg(self) -> tuple:
        ra, dec, rad = self.cone
        ra_d = parse_angle(ra, "RA (--cone)") % 360.0
        dec_d = parse_angle(dec, "Dec (--cone)")
        if not -90 <= dec_d <= 90:
            raise SfngError(f"--cone: Dec {dec!r} is outside -90..90 degrees")
        r = convert(parse_quantity(rad, "arcmin", "angle", "--cone radius"), "arcmin", "deg")
        if r <= 0:
            raise SfngError(f"--cone radius {rad!r}: must be positive")
        return ra_d, dec_d, r

    @property
    def polygon_deg(self) -> tuple:
        return parse_polygon(self.polygon)

    def where_expr(self) -> Expr | None:
        return parse_where(self.where) if self.where else None

    def terms(self) -> tuple[list, list]:
        return ([parse_term(t, "--has") for t in self.has], [parse_term(t, "--lacks") for t in self.lacks])

    @property
    def is_galaxy_set(self) -> bool:
        return bool(self.has or self.lacks)

    def is_empty(self) -> bool:
        return not self.to_args()

    # -- rendering ----------------------------------------------------------------------
    def to_args(self) -> list[str]:
        """The command-line arguments that make this selection (round trip with the options)."""
        args: list[str] = []
        for t in self.tracers:
            args += ["--line", t]
        for q in ("res", "dist", "depth"):
            r = getattr(self, q)
            if r is not None:
                args += [_opt(q), r.text]
        if self.depth_chan is not None:
            args += ["--depth-chan", self.depth_chan]
        for q in ("chan", "res_pc", "date"):
            r = getattr(self, q)
            if r is not None:
                args += [_opt(q), r.text]
        for name, opt in (("galaxies", "--galaxy"), ("surveys", "--survey"), ("trees", "--tree"),
                          ("types", "--type"), ("bunits", "--bunit")):
            for v in getattr(self, name):
                args += [opt, v]
        if self.valid is not None:
            args.append("--valid" if self.valid else "--invalid")
        if self.near is not None:
            args += ["--near", self.near]
            if self.radius is not None:
                args += ["--radius", self.radius]
        if self.cone is not None:
            args += ["--cone", *self.cone]
        if self.polygon is not None:
            args += ["--polygon", self.polygon]
        if self.moc is not None:
            args += ["--moc", self.moc]
        if self.where:
            args += ["--where", self.where]
        for t in self.has:
            args += ["--has", t]
        for t in self.lacks:
            args += ["--lacks", t]
        for v in self.versions:
            args += ["--data-version", v]
        if self.all_versions:
            args.append("--all-versions")
        return args

    def to_command(self, prog: str = "sfng find") -> str:
        """A shell-safe command line, e.g. ``sfng find --line CO10 --res '<15'``."""
        return " ".join([prog, *(shlex.quote(a) for a in self.to_args())]).strip()

    def as_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or v == () or (f.name == "all_versions" and not v):
                continue
            out[f.name] = v.text if isinstance(v, Range) else (list(v) if isinstance(v, tuple) else v)
        return out


#: The options that take a comparison (and so accept the glued form ``'--res<15'``).
COMPARISON_OPTIONS = ("--res", "--dist", "--depth", "--chan", "--res-pc", "--date")
_GLUED = re.compile(r"^(--(?:res-pc|res|dist|depth|chan|date))([<>=].*)$")


def unglue(args: list[str]) -> list[str]:
    """``['--res<15']`` -> ``['--res', '<15']`` (the project card's form); other args unchanged.

    Stops at ``--`` (after it everything is an argument).
    """
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            out += args[i:]
            break
        m = _GLUED.match(a)
        # '--res=<15' is click's own --opt=value form (value '<15'): it is left alone.
        if m and m.group(2)[0] in "<>":
            out += [m.group(1), m.group(2)]
        else:
            out.append(a)
    return out


__all__ = ["Range", "parse_range", "parse_date_range", "parse_quantity", "parse_where", "Expr", "WhereError", "Selection",
           "GalaxyTerm", "parse_term", "parse_polygon", "parse_angle", "unglue", "QUANTITIES",
           "convert", "canonical_unit", "unit_kind"]


#: The keywords :meth:`Selection.build` takes: the selection's own fields.
BUILD_KEYS = frozenset(f.name for f in fields(Selection))

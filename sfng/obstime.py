"""Observation times from a FITS header: ``DATE-OBS``/``MJD-OBS``, ``DATE-END``/``MJD-END``,
``EXPTIME`` (or ``XPOSURE``), in the time scale ``TIMESYS`` (UTC when absent), through
:mod:`astropy.time`.

The index stores the start and end as MJD in UTC (``mjd_obs``, ``mjd_end``; a header in another
scale, TT or TAI say, is converted), ``date_obs`` as the ISO 8601 form of ``mjd_obs`` (UTC), and
``exptime`` in seconds.  Forms read (FITS 4.0, section 9.1): ``'2015-03-01T05:06:07.5'``,
``'2015-03-01'``, and the old ``'DD/MM/YY'`` (19YY, with the time from ``TIME-OBS``/``UT`` when
given).  When both ``MJD-OBS`` and ``DATE-OBS`` are given, ``MJD-OBS`` is used (it is the more
precise; the standard requires them to agree).  The end comes only from ``MJD-END``/``DATE-END``:
an exposure time is not taken to mean a continuous exposure.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import SfngError
from .numbers import as_float

NAN = float("nan")

#: Scales astropy.time converts (FITS TIMESYS values, lower case); others are refused.
_SCALES = {"utc": "utc", "tai": "tai", "tt": "tt", "tdt": "tt", "et": "tt", "tdb": "tdb",
           "tcg": "tcg", "tcb": "tcb", "ut1": "ut1", "iat": "tai", "gps": "gps"}
_OLD_FORM = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2})\s*$")
_ISO_FORM = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?)?\s*Z?\s*$")
_TIME_FORM = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?\s*$")


@dataclass(frozen=True)
class ObsTime:
    """A file's observation times (NaN / '' unknown); ``note`` says what was not understood."""

    date_obs: str = ""
    mjd_obs: float = NAN
    mjd_end: float = NAN
    exptime: float = NAN
    scale: str = "utc"
    note: str = ""

    def row(self) -> dict:
        return {"date_obs": self.date_obs, "mjd_obs": self.mjd_obs, "mjd_end": self.mjd_end,
                "exptime": self.exptime}


def _iso(text: str, time_text=None) -> str | None:
    """An ISO 8601 string for a FITS date value, or None when it is not one."""
    m = _OLD_FORM.match(text)
    if m:   # DD/MM/YY: the 1900s only (FITS 4.0, 9.1.1)
        day, month, yy = (int(g) for g in m.groups())
        out = f"19{yy:02d}-{month:02d}-{day:02d}"
        t = _TIME_FORM.match(str(time_text)) if time_text is not None else None
        if t:
            h, mi, s = t.group(1), t.group(2), t.group(3) or "00"
            out += f"T{int(h):02d}:{mi}:{s}"
        return out
    m = _ISO_FORM.match(text)
    if m:
        y, mo, d, h, mi, s = m.groups()
        out = f"{y}-{mo}-{d}"
        if h is not None:
            out += f"T{h}:{mi}:{s or '00'}"
        elif time_text is not None and (t := _TIME_FORM.match(str(time_text))):
            out += f"T{int(t.group(1)):02d}:{t.group(2)}:{t.group(3) or '00'}"
        return out
    return None


def _number(v) -> float:
    """A header value as a finite float, else NaN (an infinite time is no time)."""
    f = as_float(v)
    return f if math.isfinite(f) else NAN


def to_mjd(text: str, scale: str = "utc") -> float:
    """MJD (UTC) of a FITS date string in ``scale``; SfngError when it cannot be read."""
    return _date_mjd(text, None, scale)


#: MJD 0.  Between 1972 and the far future, a UTC day that may hold a leap second (30 June,
#: 31 December) is left to astropy; every other day has 86,400 s, so plain calendar arithmetic
#: gives astropy's values exactly (cross-checked in tests/test_obstime.py), ~100x faster: the
#: crawl reads a date per file.
_EPOCH = _dt.datetime(1858, 11, 17)
_FAST_FROM = 41317   # MJD of 1972-01-01, when UTC took its present form


def _leap_day(month: int, day: int) -> bool:
    return (month, day) in ((6, 30), (12, 31))


@lru_cache(maxsize=4096)
def mjd_to_iso(mjd: float) -> str:
    """ISO 8601 (UTC, milliseconds) of an MJD in UTC; '' for NaN."""
    if not math.isfinite(mjd):
        return ""
    if _FAST_FROM <= mjd < 2_973_484:   # 1972 .. 9999
        day = math.floor(mjd)
        when = _EPOCH + _dt.timedelta(days=day)
        if not _leap_day(when.month, when.day):
            t = when + _dt.timedelta(milliseconds=round((mjd - day) * 86_400_000.0))
            if t.date() == when.date():   # not rounded into the next day
                return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
    from astropy.time import Time

    return Time(mjd, format="mjd", scale="utc").isot


def _fast_utc_mjd(iso: str) -> float | None:
    """The MJD of a UTC ISO string by calendar arithmetic, or None where astropy must decide."""
    m = _ISO_FORM.match(iso)
    if m is None:
        return None
    y, mo, d, h, mi, s = m.groups()
    y, mo, d = int(y), int(mo), int(d)
    if y < 1972 or _leap_day(mo, d):
        return None
    try:
        days = (_dt.date(y, mo, d) - _EPOCH.date()).days
    except ValueError:
        return None   # 2015-02-30: astropy says why
    h, mi, sec = int(h or 0), int(mi or 0), float(s or 0.0)
    if h > 23 or mi > 59 or not 0.0 <= sec < 60.0:
        return None
    return days + (h * 3600 + mi * 60 + sec) / 86400.0


def _mjd_in(value: float, scale: str) -> float:
    from astropy.time import Time

    if scale == "utc" or not math.isfinite(value):
        return value
    return float(Time(value, format="mjd", scale=scale).utc.mjd)


def observation_time(header) -> ObsTime:
    """The observation times of a header (a Mapping; the effective header, so the README's
    values count too).  Never raises: what cannot be read is left unknown and named in
    ``note``."""
    get = header.get
    notes = []
    timesys = str(get("TIMESYS") or "UTC").strip().lower()
    scale = _SCALES.get(timesys)
    if scale is None:
        return ObsTime(scale=timesys, note=f"TIMESYS {get('TIMESYS')!r}: a time scale sfng does "
                                           f"not convert; times left unknown")
    start = _number(get("MJD-OBS"))
    if math.isfinite(start):
        start = _mjd_in(start, scale)
    elif get("DATE-OBS") not in (None, ""):
        try:
            start = _date_mjd(get("DATE-OBS"), get("TIME-OBS") or get("UT"), scale)
        except SfngError as exc:
            notes.append(f"DATE-OBS: {exc}")
    end = _number(get("MJD-END"))
    if math.isfinite(end):
        end = _mjd_in(end, scale)
    elif get("DATE-END") not in (None, ""):
        try:
            end = _date_mjd(get("DATE-END"), get("TIME-END"), scale)
        except SfngError as exc:
            notes.append(f"DATE-END: {exc}")
    exptime = _number(get("EXPTIME"))
    if not math.isfinite(exptime):
        exptime = _number(get("XPOSURE"))
    if math.isfinite(exptime) and exptime < 0:
        notes.append(f"EXPTIME {exptime}: negative, left unknown")
        exptime = NAN
    return ObsTime(mjd_to_iso(start), start, end, exptime, scale, "; ".join(notes))


@lru_cache(maxsize=4096)
def _date_mjd(text, time_text, scale) -> float:
    from astropy.time import Time

    iso = _iso(str(text), time_text)
    if iso is None:
        raise SfngError(f"cannot read {text!r} as a date (YYYY-MM-DD[Thh:mm:ss[.s]] or DD/MM/YY)")
    if scale == "utc":
        fast = _fast_utc_mjd(iso)
        if fast is not None:
            return fast
    try:
        return float(Time(iso, format="isot" if "T" in iso else "iso", scale=scale).utc.mjd)
    except ValueError as exc:
        raise SfngError(f"cannot read {text!r} as a date ({exc})") from None


def parse_date(text: str, what: str = "--date") -> float:
    """MJD (UTC) of a date given on the command line: ``2015-01-01``, ``2015-01-01T12:00``, a
    year ``2015`` (its first day), or ``MJD57000``."""
    raw = (text or "").strip()
    if re.fullmatch(r"\d{4}", raw):
        raw = f"{raw}-01-01"
    m = re.fullmatch(r"(?i)mjd\s*([+-]?\d+(?:\.\d*)?)", raw)
    if m:
        return float(m.group(1))
    try:
        return to_mjd(raw)
    except SfngError:
        raise SfngError(f"{what}: cannot read {text!r} as a date; write e.g. 2015-01-01, "
                        f"2015-01-01T12:00:00, 2015 or MJD57000") from None

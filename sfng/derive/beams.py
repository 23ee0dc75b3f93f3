"""Beam maths of ``sfng derive``, through radio-beam: targets, feasibility, the common beam,
the convolution kernel and the resolution tag of a product's name.

A target is ``15arcsec`` (a round beam of that FWHM), ``500pc`` (a round beam of that physical
FWHM at the galaxy's distance), ``common`` (radio-beam's smallest beam every input can be
convolved to) or an explicit ``--beam BMAJ,BMIN,BPA`` (arcsec, arcsec, deg; non-round allowed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import SfngError

#: arcsec per radian.
ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0

_TARGET_RE = re.compile(r"^\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>arcsec|as|\"|arcmin|am|'|deg|pc|kpc)?\s*$",
                        re.IGNORECASE)
_ANGLE = {"arcsec": 1.0, "as": 1.0, '"': 1.0, "arcmin": 60.0, "am": 60.0, "'": 60.0, "deg": 3600.0}
_LENGTH = {"pc": 1.0, "kpc": 1000.0}


@dataclass(frozen=True)
class Target:
    """What the user asked for: ``kind`` ``angle`` (``value`` arcsec), ``physical`` (``value``
    pc), ``common`` or ``beam`` (``bmaj``, ``bmin`` arcsec, ``bpa`` deg); ``round`` circularises."""

    kind: str
    value: float = math.nan
    bmaj: float = math.nan
    bmin: float = math.nan
    bpa: float = 0.0
    round: bool = False

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "round": self.round}
        if self.kind in ("angle", "physical"):
            d["value"] = self.value
            d["unit"] = "arcsec" if self.kind == "angle" else "pc"
        if self.kind == "beam":
            d.update(bmaj=self.bmaj, bmin=self.bmin, bpa=self.bpa)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Target:
        return cls(kind=d["kind"], value=float(d.get("value", math.nan)), bmaj=float(d.get("bmaj", math.nan)),
                   bmin=float(d.get("bmin", math.nan)), bpa=float(d.get("bpa", 0.0)),
                   round=bool(d.get("round", False)))


def parse_target(to: str | None, beam: str | None = None, round_: bool = False) -> Target:
    """``--to`` / ``--beam`` / ``--round`` as a :class:`Target` (SfngError for bad text)."""
    if beam:
        if to:
            raise SfngError("give --to or --beam, not both")
        try:
            parts = [float(x) for x in beam.split(",")]
        except ValueError:
            parts = []
        if len(parts) not in (2, 3) or parts[0] <= 0 or parts[1] <= 0:
            raise SfngError(f"--beam {beam!r}: expected BMAJ,BMIN[,BPA] (arcsec, arcsec, deg), e.g. 15,10,30")
        bmaj, bmin = max(parts[:2]), min(parts[:2])
        return Target("beam", bmaj=bmaj, bmin=bmin, bpa=parts[2] if len(parts) == 3 else 0.0, round=round_)
    if not to:
        raise SfngError("say the target resolution: --to 15arcsec, --to 500pc, --to common or --beam BMAJ,BMIN,BPA")
    if to.strip().lower() == "common":
        return Target("common", round=round_)
    m = _TARGET_RE.match(to)
    if not m or float(m.group("num")) <= 0:
        raise SfngError(f"--to {to!r}: expected an angle (15arcsec, 0.5arcmin), a length (500pc, 1kpc) or 'common'")
    num, unit = float(m.group("num")), (m.group("unit") or "arcsec").lower()
    if unit in _LENGTH:
        return Target("physical", value=num * _LENGTH[unit], round=round_)
    return Target("angle", value=num * _ANGLE[unit], round=round_)


def radio_beam(bmaj: float, bmin: float, bpa: float):
    """A ``radio_beam.Beam`` (arcsec, arcsec, deg)."""
    import astropy.units as u
    from radio_beam import Beam

    return Beam(major=bmaj * u.arcsec, minor=bmin * u.arcsec, pa=bpa * u.deg)


def beam_dict(b) -> dict:
    """``{bmaj, bmin, bpa}`` (arcsec, arcsec, deg) of a radio-beam Beam."""
    import astropy.units as u

    return {"bmaj": float(b.major.to_value(u.arcsec)), "bmin": float(b.minor.to_value(u.arcsec)),
            "bpa": float(b.pa.to_value(u.deg))}


def angle_of(pc: float, dist_mpc: float) -> float:
    """FWHM in arcsec of ``pc`` parsecs at ``dist_mpc`` megaparsecs (small angles)."""
    return pc / (dist_mpc * 1e6) * ARCSEC_PER_RAD


def common_beam(beams: list[dict]) -> dict:
    """radio-beam's common beam of several ``{bmaj, bmin, bpa}`` (arcsec, deg)."""
    import astropy.units as u
    from radio_beam import Beams

    if len(beams) == 1:
        return dict(beams[0])
    bs = Beams(major=[b["bmaj"] for b in beams] * u.arcsec, minor=[b["bmin"] for b in beams] * u.arcsec,
               pa=[b["bpa"] for b in beams] * u.deg)
    return beam_dict(bs.common_beam())


def target_beam(target: Target, *, dist_mpc: float | None = None, common: dict | None = None) -> dict:
    """The target beam ``{bmaj, bmin, bpa}`` for one file (``dist_mpc`` for a physical target,
    ``common`` the common beam for ``--to common``)."""
    if target.kind == "angle":
        b = {"bmaj": target.value, "bmin": target.value, "bpa": 0.0}
    elif target.kind == "physical":
        if dist_mpc is None or not math.isfinite(dist_mpc) or dist_mpc <= 0:
            raise SfngError(f"a {target.value:g} pc target needs the galaxy's distance, and the galaxy "
                            f"table has none (sfng galaxies fill)")
        a = angle_of(target.value, dist_mpc)
        b = {"bmaj": a, "bmin": a, "bpa": 0.0}
    elif target.kind == "common":
        if common is None:
            raise SfngError("--to common needs the beams of every input")
        b = dict(common)
    else:
        b = {"bmaj": target.bmaj, "bmin": target.bmin, "bpa": target.bpa}
    if target.round:
        b = {"bmaj": b["bmaj"], "bmin": b["bmaj"], "bpa": 0.0}
    return b


def same_beam(a: dict, b: dict, rtol: float = 1e-6) -> bool:
    if not (math.isclose(a["bmaj"], b["bmaj"], rel_tol=rtol) and math.isclose(a["bmin"], b["bmin"], rel_tol=rtol)):
        return False
    if math.isclose(a["bmaj"], a["bmin"], rel_tol=rtol):
        return True
    d = (a["bpa"] - b["bpa"]) % 180.0
    return min(d, 180.0 - d) < 1e-6


def kernel_beam(native: dict, target: dict) -> dict | None:
    """The Gaussian that convolves ``native`` into ``target`` (radio-beam ``deconvolve``), None
    when they are the same beam; SfngError when the target is smaller than the native beam in
    some direction (no Gaussian does it)."""
    from radio_beam.utils import BeamError

    if same_beam(native, target):
        return None
    try:
        k = radio_beam(**target).deconvolve(radio_beam(**native))
    except (BeamError, ValueError) as exc:
        raise SfngError(
            f"the target beam {fmt_beam(target)} is smaller than the native beam {fmt_beam(native)} "
            f"in at least one direction: it cannot be reached by convolution ({exc})") from None
    return beam_dict(k)


def fmt_beam(b: dict) -> str:
    if math.isclose(b["bmaj"], b["bmin"], rel_tol=1e-6):
        return f"{b['bmaj']:.4g}\""
    return f"{b['bmaj']:.4g}\"x{b['bmin']:.4g}\" PA {b['bpa']:.4g} deg"


def area_arcsec2(b: dict) -> float:
    return math.pi / (4 * math.log(2)) * b["bmaj"] * b["bmin"]


def _num_tag(x: float) -> str:
    s = f"{x:.3g}"
    if "e" in s:
        s = f"{x:.0f}"
    return s.replace(".", "p")


def res_tag(target: Target, beam: dict) -> str:
    """The resolution part of a product's name: ``15as``, ``500pc``, ``15x10as``."""
    if target.kind == "physical":
        return f"{_num_tag(target.value)}pc"
    if math.isclose(beam["bmaj"], beam["bmin"], rel_tol=1e-6):
        return f"{_num_tag(beam['bmaj'])}as"
    return f"{_num_tag(beam['bmaj'])}x{_num_tag(beam['bmin'])}as"

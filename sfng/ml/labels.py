"""Per-spaxel labels from MaNGA DAP MAPS: BPT classes and 12+log(O/H).

BPT ([NII] diagram; x = log [NII]6585/Ha, y = log [OIII]5008/Hb):

* Kauffmann et al. 2003 (MNRAS 346, 1055): y = 0.61 / (x - 0.05) + 1.30, defined for x < 0.05.
  Star-forming iff x < 0.05 and y < that curve (the hyperbola's other branch, x >= 0.05, is never
  star-forming).
* Kewley et al. 2001 (ApJ 556, 121), the "maximum starburst" line: y = 0.61 / (x - 0.47) + 1.19,
  defined for x < 0.47.  AGN iff x >= 0.47 or y >= that curve; composite between the two lines.
* Kewley et al. 2006 (MNRAS 372, 961) on the [SII] diagram (x_S = log ([SII]6718+6732)/Ha): the
  Seyfert/LINER line y = 1.89 x_S + 0.76; an AGN spaxel above it is a Seyfert, below a LINER.
* Kewley et al. 2006 on the [OI] diagram (x_O = log [OI]6302/Ha): the Seyfert/LINER line
  y = 1.18 x_O + 1.30.  An AGN spaxel with both diagrams is a Seyfert or a LINER when they agree
  and AMBIGUOUS when they do not (Kewley 2006's "ambiguous" class); with one of them, that one
  decides; with neither ([SII] and [OI] missing or failing the cut) it stays "AGN".

A spaxel is usable only where every line it needs has S/N = flux * sqrt(ivar) >= ``snr`` (default 3),
a positive flux and ivar, and no DONOTUSE bit (MANGA_DAPPIXMASK, read from sdssMaskbits.par) in its
mask: the per-line conditions are ORed into one "bad" mask (any line bad -> spaxel unknown).

Metallicity 12+log(O/H), N2 = log [NII]6585/Ha, O3N2 = log ([OIII]5008/Hb) / ([NII]6585/Ha):

* PP04-N2   Pettini & Pagel 2004 (MNRAS 348, L59): 8.90 + 0.57 N2,   valid -2.5 < N2 < -0.3
* PP04-O3N2 Pettini & Pagel 2004:                  8.73 - 0.32 O3N2, valid O3N2 < 1.9
* M13-N2    Marino et al. 2013 (A&A 559, A114):    8.743 + 0.462 N2, valid -1.6 < N2 < -0.2
* M13-O3N2  Marino et al. 2013:                    8.533 - 0.214 O3N2, valid -1.1 < O3N2 < 1.7

Outside its validity range a calibration gives NaN.  The sample cut (star-forming spaxels with a
valid value) and the labels use the one calibration chosen, recorded in :func:`logoh_labels`' meta.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import dataclass

import numpy as np

from ..errors import SfngError

# -- class codes -------------------------------------------------------------------------------

UNKNOWN, SF, COMP, AGN, SEYFERT, LINER, AMBIGUOUS = 0, 1, 2, 3, 4, 5, 6
BPT_CLASSES = {UNKNOWN: "UNKNOWN", SF: "SF", COMP: "COMP", AGN: "AGN", SEYFERT: "SEYFERT", LINER: "LINER",
               AMBIGUOUS: "AMBIGUOUS"}

#: DAP EMLINE_GFLUX channel names used here.
HB, OIII, HA, NII, SII_A, SII_B = "Hb-4862", "OIII-5008", "Ha-6564", "NII-6585", "SII-6718", "SII-6732"
OI = "OI-6302"
BPT_LINES = (HB, OIII, HA, NII)


# -- the demarcation curves ---------------------------------------------------------------------

def kauffmann03(x):
    """Kauffmann et al. 2003 curve y(x); NaN for x >= 0.05 (right of its asymptote)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 0.05, 0.61 / (x - 0.05) + 1.30, np.nan)


def kewley01(x):
    """Kewley et al. 2001 maximum-starburst curve y(x); NaN for x >= 0.47."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < 0.47, 0.61 / (x - 0.47) + 1.19, np.nan)


def kewley06_seyfert_liner(xs):
    """Kewley et al. 2006 Seyfert/LINER line on the [SII] diagram: y = 1.89 x_S + 0.76."""
    return 1.89 * np.asarray(xs, dtype=float) + 0.76


def kewley06_oi_seyfert_liner(xo):
    """Kewley et al. 2006 Seyfert/LINER line on the [OI] diagram: y = 1.18 x_O + 1.30."""
    return 1.18 * np.asarray(xo, dtype=float) + 1.30


def classify_bpt(x, y, xs=None, xo=None):
    """Class codes from the line ratios (NaN ratio -> UNKNOWN).  ``xs``: log [SII]/Ha, ``xo``:
    log [OI]/Ha (each optional; NaN where that line is unusable)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    ka = kauffmann03(x)
    ke = kewley01(x)
    sf = ok & (x < 0.05) & (y < np.nan_to_num(ka, nan=-np.inf))
    # Left of x ~ -1.28 the Kauffmann curve lies above Kewley's: Kauffmann's star-forming wins there.
    agn = ok & ~sf & ((x >= 0.47) | (y >= np.nan_to_num(ke, nan=-np.inf)))
    out = np.full(x.shape, UNKNOWN, dtype=np.int16)
    out[ok] = COMP
    out[agn] = AGN
    out[sf] = SF
    # Seyfert (+1) or LINER (-1) by each of the [SII] and [OI] diagrams, 0 where it cannot say
    votes = []
    for ratio, line in ((xs, kewley06_seyfert_liner), (xo, kewley06_oi_seyfert_liner)):
        if ratio is None:
            continue
        r = np.broadcast_to(np.asarray(ratio, dtype=float), x.shape)
        has = agn & np.isfinite(r)
        votes.append(np.where(has, np.where(y >= line(r), 1, -1), 0))
    if votes:
        v = np.stack(votes)
        said = (v != 0).sum(axis=0)
        up, down = (v > 0).any(axis=0), (v < 0).any(axis=0)
        out[agn & (said > 0) & up & ~down] = SEYFERT
        out[agn & (said > 0) & down & ~up] = LINER
        out[agn & up & down] = AMBIGUOUS
    return out


def kewley01_sii(xs):
    """Kewley et al. 2001 maximum starburst on the [SII] diagram: y = 0.72 / (x_S - 0.32) + 1.30,
    NaN for x_S >= 0.32."""
    xs = np.asarray(xs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(xs < 0.32, 0.72 / (xs - 0.32) + 1.30, np.nan)


def kewley01_oi(xo):
    """Kewley et al. 2001 maximum starburst on the [OI] diagram: y = 0.73 / (x_O + 0.59) + 1.33,
    NaN for x_O >= -0.59."""
    xo = np.asarray(xo, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(xo < -0.59, 0.73 / (xo + 0.59) + 1.33, np.nan)


def classify_kewley06(x, y, xs, xo=None):
    """Kewley et al. 2006's scheme over all the diagrams at once (what marvin's
    ``bpt_kewley06`` computes): a spaxel needs every ratio (NaN in any -> UNKNOWN);

    * SF: star-forming on all three diagrams (below Kauffmann 2003 on [NII], below the
      Kewley 2001 curves on [SII] and [OI], left of each asymptote);
    * COMP: between Kauffmann 2003 and Kewley 2001 on [NII], star-forming on [SII] and [OI];
    * SEYFERT / LINER: an AGN on all three (above Kewley 2001, or right of its asymptote) and
      above / below the Seyfert-LINER line on both [SII] and [OI];
    * AMBIGUOUS: every other spaxel with all ratios (the diagrams disagree).

    ``xo`` None: the [OI] diagram is left out (marvin's ``use_oi=False``)."""
    x, y, xs = (np.asarray(v, dtype=float) for v in (x, y, xs))
    diagrams = [(xs, kewley01_sii, 0.32, kewley06_seyfert_liner)]
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(xs)
    if xo is not None:
        xo = np.asarray(xo, dtype=float)
        ok &= np.isfinite(xo)
        diagrams.append((xo, kewley01_oi, -0.59, kewley06_oi_seyfert_liner))
    ka, ke = np.nan_to_num(kauffmann03(x), nan=-np.inf), np.nan_to_num(kewley01(x), nan=-np.inf)
    sf_n = (x < 0.05) & (y < ka)
    comp_n = ~sf_n & (x < 0.47) & (y < ke)
    agn_n = (x >= 0.47) | (y >= ke)
    sf_o = np.ones_like(ok)
    agn_o = np.ones_like(ok)
    sey, lin = np.ones_like(ok), np.ones_like(ok)
    for r, curve, asym, line in diagrams:
        c = np.nan_to_num(curve(r), nan=-np.inf)
        sf_d = (r < asym) & (y < c)
        sf_o &= sf_d
        agn_o &= ~sf_d
        above = y >= line(r)
        sey &= above
        lin &= ~above
    out = np.full(x.shape, UNKNOWN, dtype=np.int16)
    out[ok] = AMBIGUOUS
    out[ok & sf_n & sf_o] = SF
    out[ok & comp_n & sf_o] = COMP
    agn = ok & agn_n & agn_o
    out[agn & sey] = SEYFERT
    out[agn & lin] = LINER
    return out


# -- calibrations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    name: str
    index: str          # "N2" or "O3N2"
    a: float
    b: float            # 12+log(O/H) = a + b * index
    lo: float           # valid lo < index < hi (-inf / inf: open)
    hi: float
    reference: str

    def __call__(self, value):
        v = np.asarray(value, dtype=float)
        ok = np.isfinite(v) & (v > self.lo) & (v < self.hi)
        return np.where(ok, self.a + self.b * v, np.nan)

    def as_dict(self) -> dict:
        return {"name": self.name, "index": self.index, "formula": f"{self.a} + ({self.b}) * {self.index}",
                "valid": [None if np.isinf(self.lo) else self.lo, None if np.isinf(self.hi) else self.hi],
                "reference": self.reference}


PP04 = "Pettini & Pagel 2004, MNRAS 348, L59"
M13 = "Marino et al. 2013, A&A 559, A114"
CALIBRATIONS = {
    "PP04-N2": Calibration("PP04-N2", "N2", 8.90, 0.57, -2.5, -0.3, PP04),
    "PP04-O3N2": Calibration("PP04-O3N2", "O3N2", 8.73, -0.32, -np.inf, 1.9, PP04),
    "M13-N2": Calibration("M13-N2", "N2", 8.743, 0.462, -1.6, -0.2, M13),
    "M13-O3N2": Calibration("M13-O3N2", "O3N2", 8.533, -0.214, -1.1, 1.7, M13),
}
DEFAULT_CALIBRATION = "M13-O3N2"
#: 12+log(O/H) bin edges of the binned labels (class k+1 = edges[k] <= value < edges[k+1]).
DEFAULT_LOGOH_EDGES = (8.0, 8.2, 8.3, 8.4, 8.5, 8.7)


def calibration(name: str) -> Calibration:
    try:
        return CALIBRATIONS[name]
    except KeyError:
        raise SfngError(f"unknown calibration {name!r}; choose one of {', '.join(CALIBRATIONS)}") from None


# -- from line maps -----------------------------------------------------------------------------

@dataclass
class LineMaps:
    """Flux, ivar and mask maps of the emission lines, by DAP channel name."""

    flux: dict
    ivar: dict
    mask: dict
    donotuse: int = 1 << 30     # the MANGA_DAPPIXMASK bits that reject a spaxel (not DONOTUSE alone
    mask_names: tuple = ("DONOTUSE",)   # when ``--mask-bits`` names more), and their names

    def mask_text(self, snr: float) -> str:
        """The mask, as the label map's metadata names it."""
        return (f"{'|'.join(self.mask_names)} ({self.donotuse:#x}) of MANGA_DAPPIXMASK, or S/N < {snr}, "
                "ORed over lines")

    def good(self, line: str, snr: float) -> np.ndarray:
        if line not in self.flux:
            raise SfngError(f"no {line} channel in EMLINE_GFLUX")
        f = np.asarray(self.flux[line], dtype=float)
        iv = np.asarray(self.ivar[line], dtype=float)
        m = np.asarray(self.mask[line]).astype(np.int64)
        with np.errstate(invalid="ignore"):
            sn = f * np.sqrt(np.where(iv > 0, iv, 0.0))
        bad = ~np.isfinite(f) | ~(iv > 0) | ~(f > 0) | ((m & self.donotuse) != 0) | ~(sn >= snr)
        return ~bad

    def good_all(self, lines, snr: float) -> np.ndarray:
        bad = np.zeros(np.shape(self.flux[lines[0]]), dtype=bool)
        for line in lines:
            bad |= ~self.good(line, snr)     # ORed: any bad line makes the spaxel unusable
        return ~bad

    def log_ratio(self, num, den, good) -> np.ndarray:
        num = [num] if isinstance(num, str) else num
        n = sum(np.asarray(self.flux[k], dtype=float) for k in num)
        d = np.asarray(self.flux[den], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log10(n / d)
        return np.where(good, r, np.nan)


#: The BPT schemes of :func:`bpt_labels`.
SCHEMES = ("nii", "kewley06")


def bpt_labels(lm: LineMaps, snr: float = 3.0, use_sii: bool = True, use_oi: bool = True,
               scheme: str = "nii") -> tuple[np.ndarray, dict]:
    """``(class map, meta)`` of one galaxy.  ``scheme``: ``nii`` classifies on the [NII]
    diagram and splits its AGN by [SII] and [OI] (:func:`classify_bpt`); ``kewley06`` needs
    all three diagrams to agree (:func:`classify_kewley06`, as marvin's ``bpt_kewley06``)."""
    if scheme not in SCHEMES:
        raise SfngError(f"--scheme {scheme!r}: one of {', '.join(SCHEMES)}")
    if scheme == "kewley06":
        return _kewley06_labels(lm, snr, use_oi)
    good = lm.good_all(BPT_LINES, snr)
    x = lm.log_ratio(NII, HA, good)
    y = lm.log_ratio(OIII, HB, good)
    xs = xo = None
    have_sii = use_sii and SII_A in lm.flux and SII_B in lm.flux
    if have_sii:
        gs = good & lm.good_all((SII_A, SII_B), snr)
        xs = lm.log_ratio((SII_A, SII_B), HA, gs)
    have_oi = use_oi and OI in lm.flux
    if have_oi:
        xo = lm.log_ratio(OI, HA, good & lm.good(OI, snr))
    cls = classify_bpt(x, y, xs, xo)
    meta = {"task": "bpt", "snr": snr, "lines": list(BPT_LINES) + ([SII_A, SII_B] if have_sii else [])
            + ([OI] if have_oi else []),
            "classes": {str(k): v for k, v in BPT_CLASSES.items()},
            "curves": {"Kauffmann 2003": "y = 0.61/(x-0.05)+1.30, x<0.05 (MNRAS 346, 1055)",
                       "Kewley 2001": "y = 0.61/(x-0.47)+1.19, x<0.47 (ApJ 556, 121)",
                       "Kewley 2006": "Seyfert/LINER on [SII]: y = 1.89 x_S + 0.76, on [OI]: y = 1.18 x_O + "
                                      "1.30; disagreeing diagrams: AMBIGUOUS (MNRAS 372, 961)"},
            "mask": lm.mask_text(snr), "mask_bits": list(lm.mask_names)}
    return cls, meta


def _kewley06_labels(lm: LineMaps, snr: float, use_oi: bool) -> tuple[np.ndarray, dict]:
    lines = list(BPT_LINES) + [SII_A, SII_B] + ([OI] if use_oi else [])
    missing = [k for k in lines if k not in lm.flux]
    if missing:
        raise SfngError(f"the kewley06 scheme needs {', '.join(missing)} (EMLINE_GFLUX channels)")
    good = lm.good_all(lines, snr)          # every line of every diagram, ORed
    x = lm.log_ratio(NII, HA, good)
    y = lm.log_ratio(OIII, HB, good)
    xs = lm.log_ratio((SII_A, SII_B), HA, good)
    xo = lm.log_ratio(OI, HA, good) if use_oi else None
    cls = classify_kewley06(x, y, xs, xo)
    meta = {"task": "bpt", "scheme": "kewley06", "snr": snr, "lines": lines,
            "classes": {str(k): v for k, v in BPT_CLASSES.items() if k != AGN},
            "curves": {"Kauffmann 2003": "y = 0.61/(x-0.05)+1.30, x<0.05 (MNRAS 346, 1055)",
                       "Kewley 2001": "[NII] y = 0.61/(x-0.47)+1.19, x<0.47; [SII] y = 0.72/(x_S-0.32)+1.30, "
                                      "x_S<0.32; [OI] y = 0.73/(x_O+0.59)+1.33, x_O<-0.59 (ApJ 556, 121)",
                       "Kewley 2006": "all diagrams agree; Seyfert/LINER: [SII] y = 1.89 x_S + 0.76, [OI] "
                                      "y = 1.18 x_O + 1.30 (MNRAS 372, 961)"},
            "mask": lm.mask_text(snr), "mask_bits": list(lm.mask_names)}
    return cls, meta


def logoh_values(lm: LineMaps, cal: Calibration, snr: float = 3.0, require_sf: bool = True) -> np.ndarray:
    """12+log(O/H) map from ``cal``: NaN outside validity, where a needed line fails, and (by
    default) where the BPT class is not star-forming."""
    lines = (NII, HA) if cal.index == "N2" else BPT_LINES
    good = lm.good_all(lines, snr)
    n2 = lm.log_ratio(NII, HA, good)
    if cal.index == "N2":
        index = n2
    else:
        index = lm.log_ratio(OIII, HB, good) - n2
    value = cal(index)
    if require_sf:
        cls, _ = bpt_labels(lm, snr, use_sii=False)
        value = np.where(cls == SF, value, np.nan)
    return value


def bin_values(values, edges) -> np.ndarray:
    """Class 0 for NaN or outside [edges[0], edges[-1]); class k (1-based) for edges[k-1] <= v < edges[k]."""
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise SfngError("bin edges must be at least two increasing numbers")
    v = np.asarray(values, dtype=float)
    k = np.digitize(np.nan_to_num(v, nan=-np.inf), edges)   # 0 below, len(edges) at/above the top
    k = np.where(np.isfinite(v) & (k >= 1) & (k < len(edges)), k, 0)
    return k.astype(np.int16)


def logoh_labels(lm: LineMaps, calibration_name: str = DEFAULT_CALIBRATION, edges=DEFAULT_LOGOH_EDGES,
                 snr: float = 3.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(class map, value map, meta)``: the sample cut (SF + valid) and labels from one calibration."""
    cal = calibration(calibration_name)
    value = logoh_values(lm, cal, snr)
    cls = bin_values(value, edges)
    classes = {"0": "UNKNOWN"}
    for k in range(1, len(edges)):
        classes[str(k)] = f"{edges[k - 1]:.3f}-{edges[k]:.3f}"
    meta = {"task": "logoh", "snr": snr, "calibration": cal.as_dict(), "edges": [float(e) for e in edges],
            "sample_cut": f"BPT star-forming and {cal.name} valid (the same calibration as the labels)",
            "classes": classes, "mask": lm.mask_text(snr), "mask_bits": list(lm.mask_names)}
    return cls, value, meta


def read_maps(path, mask_bits=("DONOTUSE",)) -> LineMaps:
    """EMLINE_GFLUX (+_IVAR, _MASK) of a DAP MAPS file.  ``mask_bits``: the MANGA_DAPPIXMASK
    bits (names, read from sdssMaskbits.par) that reject a spaxel; the DAP's advice is
    DONOTUSE, to which UNRELIABLE may be added."""
    from astropy.io import fits

    from .maskbits import bitmask

    bit_names = tuple(mask_bits)
    reject = bitmask("MANGA_DAPPIXMASK", bit_names)   # unknown names fail before the file is read

    with fits.open(path, memmap=False) as hdul:
        names = [h.name for h in hdul]
        for ext in ("EMLINE_GFLUX", "EMLINE_GFLUX_IVAR", "EMLINE_GFLUX_MASK"):
            if ext not in names:
                raise SfngError(f"{path}: no {ext} extension (not a DAP MAPS file?)")
        h = hdul["EMLINE_GFLUX"].header
        flux = np.asarray(hdul["EMLINE_GFLUX"].data, dtype=float)
        ivar = np.asarray(hdul["EMLINE_GFLUX_IVAR"].data, dtype=float)
        mask = np.asarray(hdul["EMLINE_GFLUX_MASK"].data).astype(np.int64)
    n = flux.shape[0]
    chans = {}
    for k in range(1, n + 1):
        name = h.get(f"C{k:02d}", h.get(f"C{k}"))
        if name:
            chans[str(name).strip()] = k - 1
    pick = lambda a: {c: a[i] for c, i in chans.items()}   # noqa: E731
    return LineMaps(pick(flux), pick(ivar), pick(mask), donotuse=reject, mask_names=bit_names)


def celestial_header(path):
    """The 2-D celestial WCS cards of a MAPS file's EMLINE_GFLUX header (for the label maps)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path, memmap=False) as hdul:
        h = hdul["EMLINE_GFLUX"].header
        try:
            return WCS(h).celestial.to_header()
        except Exception:  # noqa: BLE001 - a label map without WCS is still a label map
            return fits.Header()


def write_label_map(path, classes, meta: dict, wcs_header=None, values=None) -> None:
    """A FITS label map (int16 class codes, ``CLASSn`` naming each code, the calibration used)."""
    from astropy.io import fits

    h = fits.Header()
    if wcs_header is not None:
        h.update(wcs_header)
    h["MLTASK"] = meta["task"]
    h["SNRCUT"] = (meta["snr"], "S/N cut on every line used")
    if meta.get("mask_bits"):
        h["MASKBITS"] = ("|".join(meta["mask_bits"]), "MANGA_DAPPIXMASK bits rejected")
    for code, name in meta["classes"].items():
        h[f"CLASS{code}"] = name
    if "calibration" in meta:
        h["CALIB"] = (meta["calibration"]["name"], meta["calibration"]["reference"][:40])
    hdus = [fits.PrimaryHDU(np.asarray(classes, dtype=np.int16), h)]
    if values is not None:
        hv = fits.Header(wcs_header) if wcs_header is not None else fits.Header()
        hv["BUNIT"] = "dex"
        hdus.append(fits.ImageHDU(np.asarray(values, dtype=np.float32), hv, name="LOGOH"))
    # Temporary name beside the target, fsync, rename: a kill never leaves half a map.
    from ..fsutil import TMP_PREFIX, fsync_dir, place_temp, removing_on_error

    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    with removing_on_error(tmp):
        fits.HDUList(hdus).writeto(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        place_temp(tmp, path, overwrite=True)
    fsync_dir(path.parent)

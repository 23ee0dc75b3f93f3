"""``sfng ml labels --scheme kewley06`` against SDSS marvin's own ``bpt_kewley06`` on the same maps.

marvin 2.8.2's ``marvin/utils/dap/bpt.py`` is read from its published wheel (downloaded by hash by
``make refcode``, tests/reference/requirements.txt) and run as written: only the two marvin helpers
it imports (an exception module and a figure decorator) are stand-ins, and its ``Maps`` is a small
object giving what ``bpt_kewley06`` reads (``.masked``, ``.snr``, ``.ivar`` per emission line), built
here from the FITS file with astropy and marvin's own ``sdssMaskbits.par`` -- not with sfng's reader.

The maps are a DAP MAPS file (the real 64-HDU layout) whose EMLINE_GFLUX planes are rewritten so
every region of the three diagrams is populated, with low S/N, zero ivar, negative flux and DAP
mask bits (NOCOV, LOWCOV, UNRELIABLE, DONOTUSE) on known spaxels.  sfng runs with marvin's DR17
mask (``--mask-bits NOCOV,UNRELIABLE,DONOTUSE``, marvin's ``default_mapmask`` for MPL-11).

Expected: the same class at every spaxel, except where docs/ml.md says sfng follows the papers
rather than marvin's code: right of Kauffmann's asymptote (x >= 0.05) and below Kewley 2001's
curve, star-forming on [SII] and [OI], Kewley 2006 calls a spaxel composite; marvin (which also
asks x < 0.05 of a composite) leaves it unclassified ("ambiguous").  The test asserts that region
is populated and is exactly where the two differ.
"""

from __future__ import annotations

import re
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sfng.ml import labels as L

WHEEL_DIR = Path(__file__).resolve().parents[1] / ".venv" / "refwheels"
#: the hash `make refcode` downloads by (tests/reference/requirements.txt, the one place it is written)
WHEEL_SHA256 = re.search(r"^sdss-marvin==2\.8\.2 --hash=sha256:([0-9a-f]{64})$",
                         (Path(__file__).parent / "reference" / "requirements.txt").read_text(), re.M).group(1)
MARVIN_DR17_MASK = ("NOCOV", "UNRELIABLE", "DONOTUSE")    # marvin datamodel MPL-11 default_mapmask
LINES = ("OIII-5008", "Hb-4862", "NII-6585", "Ha-6564", "SII-6718", "SII-6732", "OI-6302")


def _wheel() -> Path:
    import hashlib

    found = sorted(WHEEL_DIR.glob("sdss_marvin-2.8.2-*.whl"))
    if not found:
        pytest.skip("marvin 2.8.2's wheel is not in .venv/refwheels (`make refcode` downloads it; "
                    "it needs the package index) -- the cross-check against marvin's bpt_kewley06 is skipped")
    w = found[0]
    assert hashlib.sha256(w.read_bytes()).hexdigest() == WHEEL_SHA256, f"{w} is not the published 2.8.2 wheel"
    return w


@pytest.fixture(scope="module")
def marvin_bpt():
    """marvin's bpt module, executed from the wheel's source."""
    wheel = _wheel()
    with zipfile.ZipFile(wheel) as z:
        src = z.read("marvin/utils/dap/bpt.py").decode()
        par = z.read("marvin/data/sdssMaskbits.par").decode()
    stubs = {}
    exc = types.ModuleType("marvin.core.exceptions")
    exc.MarvinError = type("MarvinError", (Exception,), {})
    exc.MarvinDeprecationWarning = type("MarvinDeprecationWarning", (UserWarning,), {})
    plot = types.ModuleType("marvin.utils.plot")
    plot.bind_to_figure = lambda *a, **k: None          # figures only; return_figure=False here
    for name in ("marvin", "marvin.core", "marvin.utils"):
        stubs[name] = types.ModuleType(name)
    stubs["marvin.core.exceptions"], stubs["marvin.utils.plot"] = exc, plot
    try:
        import matplotlib  # noqa: F401 - bpt.py imports it at the top; it draws nothing here
        from mpl_toolkits.axes_grid1 import ImageGrid  # noqa: F401
    except ImportError:
        for name in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.axes_grid1"):
            stubs[name] = types.ModuleType(name)
        stubs["matplotlib"].__version__ = "3.8.0"
        stubs["mpl_toolkits.axes_grid1"].ImageGrid = None
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        mod = types.ModuleType("marvin_bpt_2_8_2")
        exec(compile(src, f"{wheel.name}/marvin/utils/dap/bpt.py", "exec"), mod.__dict__)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    bits = {m.group(2): int(m.group(1)) for m in
            re.finditer(r"^maskbits\s+MANGA_DAPPIXMASK\s+(\d+)\s+(\w+)", par, re.M)}
    mod.dap_reject = sum(1 << bits[n] for n in MARVIN_DR17_MASK)
    return mod


class _Map:
    """What bpt_kewley06 reads of a marvin Map: ``masked`` (a fresh copy, marvin's default mask),
    ``snr`` (|value| * sqrt(ivar), marvin's BaseQuantity.snr) and ``ivar``."""

    def __init__(self, value, ivar, mask, reject):
        self.value, self.ivar, self.mask, self._reject = value, ivar, mask, reject

    @property
    def masked(self):
        return np.ma.array(self.value, mask=(self.mask & self._reject) != 0)

    @property
    def snr(self):
        return np.abs(self.value * np.sqrt(self.ivar))


class _Maps:
    """``maps['emline_gflux_ha_6564']`` from a DAP MAPS file, by its C01..Cnn channel cards."""

    def __init__(self, path, reject):
        from astropy.io import fits

        with fits.open(path) as h:
            hdr = h["EMLINE_GFLUX"].header
            flux, ivar = h["EMLINE_GFLUX"].data.copy(), h["EMLINE_GFLUX_IVAR"].data.copy()
            mask = h["EMLINE_GFLUX_MASK"].data.copy()
        self._maps = {}
        for key, val in hdr.items():
            if re.fullmatch(r"C\d+", key):
                k = int(key[1:]) - 1
                name = "emline_gflux_" + str(val).strip().lower().replace("-", "_")
                self._maps[name] = _Map(flux[k], ivar[k], mask[k], reject)

    def __getitem__(self, key):
        return self._maps[key]


def _design_maps(path, seed=11):
    """Rewrite the emission-line planes of a demo MAPS file: log ratios drawn over all of the
    three diagrams, S/N from 1 to 40, and bad values and mask bits on ~12% of the spaxels."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    with fits.open(path) as h:
        hdul = fits.HDUList([hdu.copy() for hdu in h])
    hdr = hdul["EMLINE_GFLUX"].header
    chans = {str(v).strip(): int(k[1:]) - 1 for k, v in hdr.items() if re.fullmatch(r"C\d+", k)}
    flux = hdul["EMLINE_GFLUX"].data
    ivar = hdul["EMLINE_GFLUX_IVAR"].data
    mask = hdul["EMLINE_GFLUX_MASK"].data
    shape = flux.shape[1:]
    x, y = rng.uniform(-1.6, 0.9, shape), rng.uniform(-1.3, 1.5, shape)
    xs, xo = rng.uniform(-1.2, 0.6, shape), rng.uniform(-2.4, 0.3, shape)
    # a third of the spaxels star-forming on [SII] and [OI], so composites (which need that) abound
    sfo = rng.random(shape) < 0.35
    xs = np.where(sfo, rng.uniform(-1.2, -0.3, shape), xs)
    xo = np.where(sfo, rng.uniform(-2.4, -1.4, shape), xo)
    y = np.where(sfo, rng.uniform(-1.3, 0.3, shape), y)
    # and a tenth of those right of Kauffmann's asymptote, below Kewley 2001's curve (the region
    # where marvin's code and the papers part): 0.05 <= x < 0.2, y below 0.61/(x - 0.47) + 1.19
    right = sfo & (rng.random(shape) < 0.3)
    xr = rng.uniform(0.05, 0.2, shape)
    x = np.where(right, xr, x)
    y = np.where(right, (0.61 / (xr - 0.47) + 1.19) - rng.uniform(0.05, 1.0, shape), y)
    ha = rng.uniform(5.0, 50.0, shape)
    hb = ha / 2.86
    split = rng.uniform(0.4, 0.6, shape)
    values = {"Ha-6564": ha, "Hb-4862": hb, "NII-6585": ha * 10 ** x, "OIII-5008": hb * 10 ** y,
              "SII-6718": ha * 10 ** xs * split, "SII-6732": ha * 10 ** xs * (1 - split),
              "OI-6302": ha * 10 ** xo}
    mask[...] = 0
    for line, v in values.items():
        k = chans[line]
        snr = np.where(rng.random(shape) < 0.04, rng.uniform(0.5, 2.9, shape), rng.uniform(3.2, 40.0, shape))
        flux[k] = v
        ivar[k] = (snr / v) ** 2
        bad = rng.random(shape)
        ivar[k][bad < 0.01] = 0.0                                   # no error estimate
        flux[k][(bad >= 0.01) & (bad < 0.02)] *= -1                 # a negative fitted flux
        for bit, lo in ((0, 0.02), (1, 0.03), (5, 0.04), (30, 0.05)):   # NOCOV, LOWCOV, UNRELIABLE, DONOTUSE
            mask[k][(bad >= lo) & (bad < lo + 0.01)] |= np.int32(1 << bit)
    hdul.writeto(path, overwrite=True)
    return chans


@pytest.fixture(scope="module")
def designed(tmp_path_factory):
    from sfng.demo import manga as mangagen

    d = tmp_path_factory.mktemp("marvin")
    t = mangagen.DEMO_TARGETS[1]                  # a 127-fibre IFU: 74 x 74 spaxels
    path = mangagen.write_maps(d / mangagen.maps_name(t.plateifu), t)
    plain = d / path.name.replace(".fits.gz", ".fits")
    path.rename(plain)
    _design_maps(plain)
    return plain


def _marvin_classes(masks) -> np.ndarray:
    """One code per spaxel from marvin's global masks (which must not overlap)."""
    order = [("sf", L.SF), ("comp", L.COMP), ("seyfert", L.SEYFERT), ("liner", L.LINER),
             ("ambiguous", L.AMBIGUOUS), ("invalid", L.UNKNOWN)]
    stack = np.array([np.asarray(masks[k]["global"], dtype=bool) for k, _ in order])
    assert (stack.sum(axis=0) == 1).all(), "marvin's global masks overlap or leave a spaxel out"
    out = np.zeros(stack.shape[1:], dtype=np.int16)
    for (_, code), m in zip(order, stack):
        out[m] = code
    return out


def test_kewley06_labels_equal_marvins_bpt_kewley06_but_where_documented(designed, marvin_bpt, cli):
    from astropy.io import fits

    masks = marvin_bpt.bpt_kewley06(_Maps(designed, marvin_bpt.dap_reject), snr_min=3,
                                    return_figure=False, use_oi=True)
    theirs = _marvin_classes(masks)

    out = designed.parent / "labels"
    r = cli("ml", "labels", designed, "--scheme", "kewley06", "--mask-bits", ",".join(MARVIN_DR17_MASK),
            "--snr", "3", "-o", out)
    assert r.exit_code == 0, r.output
    with fits.open(next(out.glob("*_bpt.fits"))) as h:
        ours = h[0].data.astype(np.int16)
    assert ours.shape == theirs.shape

    # where sfng follows Kewley 2006 and marvin asks x < 0.05 of a composite
    lm = L.read_maps(designed, mask_bits=MARVIN_DR17_MASK)
    good = lm.good_all(list(LINES), 3.0)
    x, y = lm.log_ratio("NII-6585", "Ha-6564", good), lm.log_ratio("OIII-5008", "Hb-4862", good)
    with np.errstate(invalid="ignore", divide="ignore"):
        right_composite = good & (x >= 0.05) & (x < 0.47) & (y < 0.61 / (x - 0.47) + 1.19)
    # ... and star-forming on [SII] and [OI] by marvin's own per-diagram masks (so a spaxel sfng
    # wrongly called composite there, AGN-like on [SII] or [OI], is not excused)
    documented = right_composite & masks["sf"]["sii"] & masks["sf"]["oi"]
    assert documented.sum() >= 100, "the design must populate the documented region"
    assert (ours[documented] == L.COMP).all() and (theirs[documented] == L.AMBIGUOUS).all()

    same = ~documented
    assert np.array_equal(ours[same], theirs[same]), {
        "differ_at": [tuple(map(int, p)) for p in np.argwhere((ours != theirs) & same)[:10]]}
    counts = {c: int((theirs[same] == c).sum()) for c in (L.SF, L.COMP, L.SEYFERT, L.LINER, L.AMBIGUOUS,
                                                          L.UNKNOWN)}
    assert min(counts.values()) >= 80, counts      # every class is exercised on agreeing spaxels


def test_marvins_invalid_mask_is_ours_unknown_with_its_default_mask_only(designed, marvin_bpt):
    """marvin masks NOCOV, UNRELIABLE and DONOTUSE (DR17); sfng's default, the DAP's advice, is
    DONOTUSE alone: the spaxels they then disagree on are exactly those with NOCOV or UNRELIABLE
    on a line of the three diagrams (and otherwise usable)."""
    masks = marvin_bpt.bpt_kewley06(_Maps(designed, marvin_bpt.dap_reject), snr_min=3, return_figure=False)
    invalid = np.asarray(masks["invalid"]["global"], dtype=bool)
    strict, _ = L.bpt_labels(L.read_maps(designed, mask_bits=MARVIN_DR17_MASK), scheme="kewley06")
    assert np.array_equal(invalid, strict == L.UNKNOWN)
    default_lm = L.read_maps(designed)
    default, _ = L.bpt_labels(default_lm, scheme="kewley06")
    nocov_or_unrel = np.zeros(invalid.shape, dtype=bool)
    for line in LINES:
        nocov_or_unrel |= (default_lm.mask[line] & ((1 << 0) | (1 << 5))) != 0
    loosened = invalid & (default != L.UNKNOWN)
    assert loosened.any() and (nocov_or_unrel[loosened]).all()
    assert not (default == L.UNKNOWN)[~invalid].any()               # DONOTUSE alone never masks more

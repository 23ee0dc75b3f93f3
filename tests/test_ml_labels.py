"""sfng.ml labels: BPT classes and 12+log(O/H) against hand-computed values at known points."""

import json
import math

import numpy as np
import pytest

from sfng.errors import SfngError
from sfng.ml import labels as L
from sfng.ml.maskbits import bitmask, bits, parse_par


# -- bitmasks -----------------------------------------------------------------------------------

def test_maskbits_from_the_shipped_par_file():
    assert bitmask("MANGA_DAPPIXMASK", "DONOTUSE") == 1 << 30
    assert bitmask("MANGA_DRP3PIXMASK", "DONOTUSE") == 1 << 10
    assert bits("MANGA_DRP3PIXMASK")["NOCOV"] == 0
    assert bitmask("MANGA_DAPPIXMASK", ["NOCOV", "DONOTUSE"]) == (1 << 30) | 1
    with pytest.raises(SfngError):
        bitmask("MANGA_DAPPIXMASK", "NOSUCHBIT")
    assert parse_par('maskbits X 3 FOO "a b"\n# maskbits X 4 BAR "c"\n') == {"X": {"FOO": 3}}


# -- curves -------------------------------------------------------------------------------------

def test_curves_at_hand_computed_points():
    assert L.kauffmann03(-0.5) == pytest.approx(0.61 / -0.55 + 1.30)      # 0.190909
    assert L.kauffmann03(-0.5) == pytest.approx(0.190909, abs=1e-6)
    assert L.kewley01(-0.2) == pytest.approx(0.279552, abs=1e-6)           # 0.61/-0.67 + 1.19
    assert math.isnan(L.kauffmann03(0.05)) and math.isnan(L.kauffmann03(0.1))
    assert math.isnan(L.kewley01(0.47)) and math.isnan(L.kewley01(0.6))
    assert L.kewley06_seyfert_liner(0.0) == pytest.approx(0.76)


@pytest.mark.parametrize("x,y,want", [
    (-0.5, -0.5, L.SF),        # below Ka03 (0.191)
    (-0.2, 0.2, L.COMP),       # above Ka03 (-1.14), below Ke01 (0.280)
    (0.0, 0.0, L.AGN),         # above Ke01 (-0.108)
    (0.1, -2.0, L.COMP),       # right of Ka03's asymptote: never SF (naive formula: 13.5 -> "SF")
    (0.05, -5.0, L.COMP),      # exactly at the asymptote
    (0.5, -1.0, L.AGN),        # right of Ke01's asymptote: never below Ke01 (naive: 21.5 -> "COMP")
    (0.47, -3.0, L.AGN),
    (-2.0, 0.97, L.SF),        # far left, Ka03 (1.0024) above Ke01 (0.943): Kauffmann's SF wins
    (float("nan"), 0.0, L.UNKNOWN),
])
def test_bpt_classes_at_known_points(x, y, want):
    assert int(L.classify_bpt(np.array([x]), np.array([y]))[0]) == want


def test_points_on_the_curves():
    x = np.array([-0.56, -0.3])
    on_ka = L.kauffmann03(x)
    assert L.classify_bpt(x, on_ka).tolist() == [L.COMP, L.COMP]           # on the line: not below
    assert L.classify_bpt(x, on_ka - 1e-9).tolist() == [L.SF, L.SF]
    on_ke = L.kewley01(x)
    assert L.classify_bpt(x, on_ke).tolist() == [L.AGN, L.AGN]
    assert L.classify_bpt(x, on_ke - 1e-9).tolist() == [L.COMP, L.COMP]


def test_seyfert_and_liner_by_kewley06():
    x = np.array([0.0, 0.0, 0.0, -0.5])
    y = np.array([1.0, 0.5, 0.5, -0.5])
    xs = np.array([0.0, 0.0, np.nan, 0.0])
    assert L.classify_bpt(x, y, xs).tolist() == [L.SEYFERT, L.LINER, L.AGN, L.SF]


def test_the_oi_diagram_votes_with_sii_and_disagreement_is_ambiguous():
    # AGN on [NII] (x = 0.5); [SII] line at x_S = -0.3: 0.193; [OI] line at x_O = -1.0: 0.12
    x = np.full(6, 0.5)
    y = np.array([0.8, 0.15, 0.15, 0.8, 0.8, 0.15])
    xs = np.array([-0.3, -0.3, -0.3, np.nan, -0.3, np.nan])
    xo = np.array([-1.0, -1.0, -0.5, -1.0, -0.5, np.nan])
    assert L.kewley06_oi_seyfert_liner(-1.0) == pytest.approx(0.12)
    got = L.classify_bpt(x, y, xs, xo).tolist()
    # both Seyfert; SII LINER (0.15 < 0.193) but OI Seyfert (0.15 >= 0.12): ambiguous; both LINER
    # (OI line at x_O = -0.5: 0.71); OI alone: Seyfert; both Seyfert (0.8 >= 0.71); neither: AGN
    assert got == [L.SEYFERT, L.AMBIGUOUS, L.LINER, L.SEYFERT, L.SEYFERT, L.AGN]
    # a real disagreement: Seyfert by [SII] (y above its line), LINER by [OI] (y below its line)
    assert L.classify_bpt([0.5], [0.5], [-0.3], [-0.5]).tolist() == [L.AMBIGUOUS]
    assert L.BPT_CLASSES[L.AMBIGUOUS] == "AMBIGUOUS"


# -- calibrations -------------------------------------------------------------------------------

def test_calibrations_and_validity():
    c = L.CALIBRATIONS
    assert c["PP04-N2"](-1.0) == pytest.approx(8.33)
    assert c["PP04-N2"](-2.4) == pytest.approx(8.90 - 0.57 * 2.4)
    for bad in (-0.3, -0.2, -2.5, -2.6, np.nan):
        assert np.isnan(c["PP04-N2"](bad))
    assert c["PP04-O3N2"](1.0) == pytest.approx(8.41)
    assert c["PP04-O3N2"](1.8) == pytest.approx(8.154)
    assert np.isnan(c["PP04-O3N2"](1.9)) and np.isnan(c["PP04-O3N2"](2.0))
    assert c["M13-N2"](-1.0) == pytest.approx(8.281)
    assert c["M13-N2"](-0.25) == pytest.approx(8.6275)
    assert np.isnan(c["M13-N2"](-0.1)) and np.isnan(c["M13-N2"](-1.7))
    assert c["M13-O3N2"](1.0) == pytest.approx(8.319)
    assert np.isnan(c["M13-O3N2"](1.8)) and np.isnan(c["M13-O3N2"](-1.2))
    with pytest.raises(SfngError):
        L.calibration("PP04")


def test_binning():
    v = np.array([8.25, 8.0, 8.4, np.nan, 7.9, 8.39])
    assert L.bin_values(v, (8.0, 8.2, 8.3, 8.4)).tolist() == [2, 1, 0, 0, 0, 3]
    with pytest.raises(SfngError):
        L.bin_values(v, (8.3, 8.2))


# -- line maps: S/N, masks ORed ------------------------------------------------------------------

def _maps(n=4, **over):
    base = {L.HB: 3.0, L.OIII: 1.5, L.HA: 10.0, L.NII: 3.5, L.SII_A: 1.2, L.SII_B: 0.9}
    flux = {k: np.full(n, v) for k, v in base.items()}
    ivar = {k: np.full(n, 100.0) for k in base}
    mask = {k: np.zeros(n, dtype=np.int64) for k in base}
    return L.LineMaps(flux, ivar, mask, donotuse=bitmask("MANGA_DAPPIXMASK", "DONOTUSE"))


def test_masks_are_ored_and_snr_cut_applies():
    lm = _maps()
    lm.mask[L.HB][1] = 1 << 30          # one line DONOTUSE -> unknown
    lm.ivar[L.OIII][2] = 0.01           # S/N of OIII = 1.5*0.1 = 0.15 < 3 -> unknown
    lm.mask[L.HA][3] = 1 << 1           # LOWCOV only: still used
    cls, meta = L.bpt_labels(lm)
    assert cls.tolist() == [L.SF, L.UNKNOWN, L.UNKNOWN, L.SF]
    assert meta["snr"] == 3.0
    cls, _ = L.bpt_labels(lm, snr=0.1)   # configurable cut
    assert cls.tolist() == [L.SF, L.UNKNOWN, L.SF, L.SF]


def test_logoh_same_calibration_for_cut_and_labels():
    lm = _maps(2)
    lm.flux[L.OIII][1] = 30.0           # y = log 10 = 1 -> not SF -> no metallicity
    cls, value, meta = L.logoh_labels(lm, "PP04-N2", edges=(8.0, 8.3, 8.5, 8.7))
    n2 = math.log10(0.35)
    assert value[0] == pytest.approx(8.90 + 0.57 * n2)       # 8.640
    assert np.isnan(value[1])
    assert cls.tolist() == [3, 0]                           # 8.5 <= 8.640 < 8.7
    assert meta["calibration"]["name"] == "PP04-N2" and "Pettini" in meta["calibration"]["reference"]
    _, v13, m13 = L.logoh_labels(lm, "M13-O3N2")
    o3n2 = math.log10(0.5) - n2
    assert v13[0] == pytest.approx(8.533 - 0.214 * o3n2)
    assert m13["calibration"]["name"] == "M13-O3N2"


#: MANGA_DAPPIXMASK bits, as the DAP's data model numbers them (checked against the shipped
#: sdssMaskbits.par below): the hand computations use the numbers, the code reads the names.
DAP_DONOTUSE_BIT, DAP_UNRELIABLE_BIT, DAP_LOWCOV_BIT = 30, 5, 1


def _bpt_by_hand(lm, j, i, reject=1 << DAP_DONOTUSE_BIT) -> int:
    """The [NII]-scheme class of spaxel (j, i), one line at a time: a line is usable when its flux
    and ivar are positive, S/N >= 3 and its mask has none of the ``reject`` bits."""
    f = {k: float(lm.flux[k][j, i]) for k in L.BPT_LINES + (L.SII_A, L.SII_B, L.OI)}
    iv = {k: float(lm.ivar[k][j, i]) for k in f}
    m = {k: int(lm.mask[k][j, i]) for k in f}

    def usable(*lines):
        return all(f[k] > 0 and iv[k] > 0 and not m[k] & reject and f[k] * math.sqrt(iv[k]) >= 3
                   for k in lines)

    if not usable(*L.BPT_LINES):
        return L.UNKNOWN
    x = math.log10(f[L.NII] / f[L.HA])
    y = math.log10(f[L.OIII] / f[L.HB])
    if x < 0.05 and y < 0.61 / (x - 0.05) + 1.30:
        return L.SF
    if x >= 0.47 or y >= 0.61 / (x - 0.47) + 1.19:
        votes = set()
        if usable(L.SII_A, L.SII_B):
            xs = math.log10((f[L.SII_A] + f[L.SII_B]) / f[L.HA])
            votes.add(L.SEYFERT if y >= 1.89 * xs + 0.76 else L.LINER)
        if usable(L.OI):
            xo = math.log10(f[L.OI] / f[L.HA])
            votes.add(L.SEYFERT if y >= 1.18 * xo + 1.30 else L.LINER)
        return L.AGN if not votes else votes.pop() if len(votes) == 1 else L.AMBIGUOUS
    return L.COMP


def test_demo_maps_match_a_hand_computation_spaxel_by_spaxel(tmp_path):
    from sfng.demo import manga as mangagen

    t = mangagen.DEMO_TARGETS[0]
    path = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    lm = L.read_maps(path)
    cls, _ = L.bpt_labels(lm, snr=3.0)
    ny, nx = cls.shape
    counts = {}
    for j in range(ny):
        for i in range(nx):
            want = _bpt_by_hand(lm, j, i)
            assert cls[j, i] == want, (j, i)
            counts[want] = counts.get(want, 0) + 1
    assert counts.get(L.SF, 0) > 10 and counts.get(L.UNKNOWN, 0) > 10


def test_mask_bits_beyond_donotuse_match_a_hand_computation_spaxel_by_spaxel(tmp_path, cli):
    """UNRELIABLE on known spaxels of the demo maps: on Halpha (a BPT line) of 6 labelled spaxels,
    on [OII] (used by no diagram) of 4 others, and LOWCOV on Hbeta of 3 more.  ``sfng ml labels``
    without ``--mask-bits`` (DONOTUSE) and with ``--mask-bits DONOTUSE,UNRELIABLE`` each equal the
    hand computation with that reject mask at every spaxel; exactly the 6 Halpha spaxels differ."""
    from astropy.io import fits

    from sfng.demo import manga as mangagen

    assert bits("MANGA_DAPPIXMASK")["DONOTUSE"] == DAP_DONOTUSE_BIT
    assert bits("MANGA_DAPPIXMASK")["UNRELIABLE"] == DAP_UNRELIABLE_BIT
    assert bits("MANGA_DAPPIXMASK")["LOWCOV"] == DAP_LOWCOV_BIT
    t = mangagen.DEMO_TARGETS[0]
    path = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    before, _ = L.bpt_labels(L.read_maps(path))
    labelled = list(zip(*np.nonzero(before != L.UNKNOWN)))
    assert len(labelled) >= 13
    ha_spots, oii_spots, lowcov_spots = labelled[:6], labelled[6:10], labelled[10:13]
    with fits.open(path, mode="update") as h:
        chans = {str(v).strip(): int(k[1:]) - 1 for k, v in h["EMLINE_GFLUX"].header.items()
                 if k.startswith("C") and k[1:].isdigit()}
        m = h["EMLINE_GFLUX_MASK"].data
        for spots, line, bit in ((ha_spots, L.HA, DAP_UNRELIABLE_BIT), (oii_spots, "OII-3727", DAP_UNRELIABLE_BIT),
                                 (lowcov_spots, L.HB, DAP_LOWCOV_BIT)):
            for y, x in spots:
                m[chans[line], y, x] |= 1 << bit
    lm = L.read_maps(path)                       # the masks as written, for the hand computation
    got = {}
    for label, args, reject in (("plain", (), 1 << DAP_DONOTUSE_BIT),
                                ("strict", ("--mask-bits", "DONOTUSE,UNRELIABLE"),
                                 (1 << DAP_DONOTUSE_BIT) | (1 << DAP_UNRELIABLE_BIT))):
        r = cli("ml", "labels", path, *args, "-o", tmp_path / label)
        assert r.exit_code == 0, r.output
        with fits.open(next((tmp_path / label).glob("*_bpt.fits"))) as h:
            cls = h[0].data.copy()
            assert h[0].header["MASKBITS"] == ("DONOTUSE" if label == "plain" else "DONOTUSE|UNRELIABLE")
        meta = json.loads(next((tmp_path / label).glob("*_bpt.fits.json")).read_text())
        assert meta["mask_bits"] == h[0].header["MASKBITS"].split("|")
        assert meta["mask"].startswith(h[0].header["MASKBITS"] + f" ({reject:#x}) of MANGA_DAPPIXMASK")
        ny, nx = cls.shape
        for j in range(ny):
            for i in range(nx):
                assert cls[j, i] == _bpt_by_hand(lm, j, i, reject), (label, j, i)
        got[label] = cls
    assert np.array_equal(got["plain"], before)                    # the default changes nothing
    changed = sorted(zip(*np.nonzero(got["plain"] != got["strict"])))
    assert changed == sorted(ha_spots) and (got["strict"][tuple(np.array(ha_spots).T)] == L.UNKNOWN).all()


def _kewley06_by_hand(x, y, xs, xo):
    """Kewley et al. 2006, section 4, one point at a time, written from the paper."""
    if not all(math.isfinite(v) for v in (x, y, xs, xo)):
        return L.UNKNOWN
    sf_nii = x < 0.05 and y < 0.61 / (x - 0.05) + 1.30
    below_ke01_nii = x < 0.47 and y < 0.61 / (x - 0.47) + 1.19
    sf_sii = xs < 0.32 and y < 0.72 / (xs - 0.32) + 1.30
    sf_oi = xo < -0.59 and y < 0.73 / (xo + 0.59) + 1.33
    if sf_nii and sf_sii and sf_oi:
        return L.SF
    if not sf_nii and below_ke01_nii and sf_sii and sf_oi:
        return L.COMP
    if not below_ke01_nii and not sf_sii and not sf_oi:
        sey_s, sey_o = y >= 1.89 * xs + 0.76, y >= 1.18 * xo + 1.30
        if sey_s and sey_o:
            return L.SEYFERT
        if not sey_s and not sey_o:
            return L.LINER
    return L.AMBIGUOUS


def test_kewley06_scheme_against_the_paper_point_by_point():
    rng = np.random.default_rng(7)
    n = 4000
    x, y = rng.uniform(-1.5, 0.8, n), rng.uniform(-1.2, 1.5, n)
    xs, xo = rng.uniform(-1.2, 0.6, n), rng.uniform(-2.2, 0.2, n)
    x[:20] = np.nan                                                  # a missing ratio: unknown
    got = L.classify_kewley06(x, y, xs, xo)
    want = np.array([_kewley06_by_hand(*v) for v in zip(x, y, xs, xo)])
    assert np.array_equal(got, want)
    assert {L.SF, L.COMP, L.SEYFERT, L.LINER, L.AMBIGUOUS, L.UNKNOWN} <= set(got.tolist())
    assert L.AGN not in set(got.tolist())                        # every AGN is Seyfert, LINER or ambiguous


def test_kewley06_scheme_on_demo_maps(tmp_path, cli):
    from sfng.demo import manga as mangagen

    t = mangagen.DEMO_TARGETS[0]
    path = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    lm = L.read_maps(path)
    cls, meta = L.bpt_labels(lm, snr=3.0, scheme="kewley06")
    assert meta["scheme"] == "kewley06" and "3" not in meta["classes"]
    good = lm.good_all(list(L.BPT_LINES) + [L.SII_A, L.SII_B, L.OI], 3.0)
    assert np.array_equal(cls == L.UNKNOWN, ~good)                 # every line of every diagram
    r = cli("ml", "labels", path, "--scheme", "kewley06", "-o", tmp_path / "lab")
    assert r.exit_code == 0, r.output
    with pytest.raises(SfngError):
        L.bpt_labels(lm, scheme="other")

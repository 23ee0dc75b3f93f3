"""sfng.footprint: outlines agree with astropy.wcs; region tests are right across RA = 0/360 and the poles."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng import footprint as fp
from sfng.fitsheader import FitsHeader, parse_cards, read_headers
from sfng.header import effective_header

from _sky_reference import astropy_icrs_footprint

CORPUS = Path(__file__).parent / "data" / "corpus"
PROJECTIONS = sorted((CORPUS / "wcs" / "projections").glob("*.hdr"))
SPECTRAL = sorted((CORPUS / "wcs" / "spectral").glob("*.hdr"))
MANGA_FLUX = CORPUS / "manga" / "headers-dr17" / "manga-8485-1901-LOGCUBE" / "01_FLUX.hdr"
ARCSEC = 1 / 3600


def astropy_footprint(header):
    """astropy's corners in ICRS (``tests/_sky_reference.py``: computed without sfng)."""
    return astropy_icrs_footprint(header)


def assert_corners_match(out, ref, tol=0.1 * ARCSEC):
    """Every astropy corner is one of our vertices, within tol, in the same order."""
    d = fp.separation(ref[:, :1], ref[:, 1:], out.ra[None, :], out.dec[None, :])
    nearest = d.argmin(axis=1)
    assert d.min(axis=1).max() <= tol, d.min(axis=1) * 3600
    if out.n >= 4:
        # same cyclic order
        assert np.all(np.diff(nearest) > 0), nearest


@pytest.mark.parametrize("hdr", PROJECTIONS + SPECTRAL, ids=lambda p: p.name)
def test_outline_matches_astropy_on_corpus(hdr):
    text = hdr.read_bytes().decode("ascii")
    header = fits.Header.fromstring(text)
    ref = astropy_footprint(header)
    out = fp.outline(text)
    if ref is None:
        # none, or the reference point of a header that gives no image size
        assert out is None or out.kind == "centre", "astropy finds no celestial footprint but we do"
        return
    assert_corners_match(out, ref)
    # the same from a parsed Mapping and from an astropy Header
    for form in (FitsHeader(parse_cards(text)), header):
        again = fp.outline(form)
        assert again.n == out.n
        assert np.allclose(fp.separation(again.ra, again.dec, out.ra, out.dec), 0, atol=1e-9)
    # every vertex and the whole outline lie within the bounding cap
    assert np.all(fp.separation(*out.centre, out.ra, out.dec) <= out.radius + 1e-9)
    assert out.size_arcmin == pytest.approx(2 * out.radius * 60)


def _shift_axes(header):
    """The 2-D header as a cube whose sky axes are FITS axes 2 and 3 (axis 1 spectral)."""
    import re

    out = fits.Header()
    out["NAXIS"] = 3
    out["NAXIS1"] = 10
    for card in header.cards:
        k = card.keyword
        m = re.fullmatch(r"(NAXIS|CTYPE|CRVAL|CDELT|CRPIX|CUNIT|CROTA)(\d)", k)
        mm = re.fullmatch(r"(PC|CD|PV|PS)(\d)_(\d+)", k)
        if m:
            out[f"{m.group(1)}{int(m.group(2)) + 1}"] = card.value
        elif mm and mm.group(1) in ("PC", "CD"):
            out[f"{mm.group(1)}{int(mm.group(2)) + 1}_{int(mm.group(3)) + 1}"] = card.value
        elif mm:
            out[f"{mm.group(1)}{int(mm.group(2)) + 1}_{mm.group(3)}"] = card.value
        elif k in ("LONPOLE", "LATPOLE", "EQUINOX", "RADESYS"):
            out[k] = card.value
    out.update({"CTYPE1": "FREQ", "CRVAL1": 1.42e9, "CDELT1": 1e5, "CRPIX1": 1.0})
    return out


@pytest.mark.parametrize("hdr", PROJECTIONS, ids=lambda p: p.name)
def test_outline_of_sky_axes_2_and_3(hdr):
    """The sky axes renumbered (PV, LONPOLE, ... included) give astropy's outline too."""
    header = _shift_axes(fits.Header.fromstring(hdr.read_text()))
    ref = astropy_footprint(header)
    if ref is None:
        pytest.skip("astropy cannot compute this footprint")
    assert any(k.startswith("PV") for k in header) or "ZPN" not in hdr.name
    assert_corners_match(fp.outline(header), ref)


def test_coupled_sky_and_spectral_axes_use_the_full_wcs():
    h = make_header([50, 60, 20], extra={**CUBE, "PC1_3": 1e-9, "PC3_1": 0.0})
    assert fp._sky_text(fp.wcs_text(h), 1, 2) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w = WCS(h)
    corners = np.array([[0, 0, 0], [0, 59, 0], [49, 59, 0], [49, 0, 0]], float)
    ref = w.all_pix2world(corners, 0)[:, :2]  # astropy's .celestial refuses the coupled matrix
    assert_corners_match(fp.outline(h), ref)


def test_tan_outline_is_four_corners_and_curved_ones_are_sampled():
    tan = fp.outline((CORPUS / "wcs" / "projections" / "1904-66_TAN.hdr").read_text())
    assert tan.n == 4  # TAN edges are great circles
    ait = fp.outline((CORPUS / "wcs" / "projections" / "1904-66_AIT.hdr").read_text())
    assert ait.n == 16


def test_manga_cube_outline():
    header = fits.Header.fromtextfile(MANGA_FLUX)
    out = fp.outline(header)
    assert_corners_match(out, astropy_footprint(header))
    # 34 spaxels of 0.5 arcsec: 33 * 0.5 arcsec between edge-pixel centres
    assert out.width_arcmin == pytest.approx(33 * 0.5 / 60, rel=1e-3)
    assert out.height_arcmin == pytest.approx(33 * 0.5 / 60, rel=1e-3)
    assert out.centre == pytest.approx((232.5447, 48.690201), abs=2 * ARCSEC)


def make_header(naxes, ctype=("RA---TAN", "DEC--TAN"), crval=(10.0, 20.0), cdelt=(-1 / 3600, 1 / 3600),
                extra=None, order=(1, 2)):
    """A header with celestial axes at FITS axis numbers ``order`` and others as given."""
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = -32
    h["NAXIS"] = len(naxes)
    for i, n in enumerate(naxes, 1):
        h[f"NAXIS{i}"] = n
    for (ax, ct, cv, cd) in zip(order, ctype, crval, cdelt):
        h[f"CTYPE{ax}"] = ct
        h[f"CRVAL{ax}"] = cv
        h[f"CDELT{ax}"] = cd
        h[f"CRPIX{ax}"] = (naxes[ax - 1] + 1) / 2
        h[f"CUNIT{ax}"] = "deg"
    for k, v in (extra or {}).items():
        h[k] = v
    h["RADESYS"] = "ICRS"
    return h


CUBE = {"CTYPE3": "FREQ", "CRVAL3": 1.4204e9, "CDELT3": 2e4, "CRPIX3": 1.0, "CUNIT3": "Hz"}
STOKES = {"CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 0.0, "CRPIX4": 1.0}  # PdBI: CDELT4 = 0
GENERATED = {
    "2d-tan": make_header([200, 150]),
    "2d-across-ra0": make_header([600, 400], crval=(0.05, 5.0), cdelt=(-2 / 3600, 2 / 3600)),
    "2d-sin-large": make_header([512, 512], ctype=("RA---SIN", "DEC--SIN"), crval=(180.0, -30.0),
                                cdelt=(-0.02, 0.02)),
    "2d-near-pole": make_header([300, 300], crval=(45.0, 89.9), cdelt=(-2 / 3600, 2 / 3600)),
    "2d-over-south-pole": make_header([400, 400], ctype=("RA---ZEA", "DEC--ZEA"), crval=(0.0, -90.0),
                                      cdelt=(-0.01, 0.01)),
    "2d-galactic-car": make_header([360, 180], ctype=("GLON-CAR", "GLAT-CAR"), crval=(30.0, 0.0),
                                   cdelt=(-0.05, 0.05)),
    "2d-gls-rotated": make_header([100, 120], ctype=("RA---GLS", "DEC--GLS"), crval=(150.0, 2.0),
                                  cdelt=(-1e-3, 1e-3), extra={"CROTA2": 30.0}),
    "2d-cd-matrix": fits.Header({
        "SIMPLE": True, "BITPIX": -32, "NAXIS": 2, "NAXIS1": 250, "NAXIS2": 300,
        "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 202.47, "CRVAL2": 47.19,
        "CRPIX1": 125.0, "CRPIX2": 150.0, "CD1_1": -1.2e-4, "CD1_2": 3e-5, "CD2_1": 3e-5,
        "CD2_2": 1.2e-4}),
    "3d-cube": make_header([128, 128, 60], extra=CUBE),
    "4d-stokes-pdbi": make_header([64, 64, 40, 1], extra={**CUBE, **STOKES}),
    "4d-stokes-third": make_header([64, 80, 1, 40], extra={
        "CTYPE3": "STOKES", "CRVAL3": 1.0, "CDELT3": 1.0, "CRPIX3": 1.0,
        "CTYPE4": "VELO-LSR", "CRVAL4": 5e5, "CDELT4": 5e3, "CRPIX4": 1.0}),
    "3d-dec-first": make_header([90, 70, 20], ctype=("DEC--TAN", "RA---TAN"), order=(1, 2),
                                crval=(-30.0, 40.0), cdelt=(1 / 3600, -1 / 3600), extra=CUBE),
    "3d-spectral-first": make_header([30, 50, 40], order=(2, 3), extra={
        "CTYPE1": "VRAD", "CRVAL1": 1e5, "CDELT1": 2e3, "CRPIX1": 1.0, "CUNIT1": "m/s"}),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_outline_matches_astropy_on_generated_headers(name, tmp_path):
    header = GENERATED[name]
    ref = astropy_footprint(header)
    if name == "4d-stokes-pdbi":
        # astropy.wcs meets the singular matrix CDELT4 = 0 makes; we never look at that axis
        assert ref is None
        fixed = header.copy()
        fixed["CDELT4"] = 1.0
        ref = astropy_footprint(fixed)
    assert ref is not None
    out = fp.outline(header)
    assert_corners_match(out, ref)
    assert 4 <= out.n <= fp.MAX_VERTICES
    # the crawler path: header blocks read from a file, then an effective header
    path = tmp_path / "x.fits"
    path.write_bytes(header.tostring().encode() + b"\0" * 2880)
    with open(path, "r+b") as f:  # right data size, as a sparse hole
        f.truncate(2880 * ((len(header.tostring()) + _bytes(header) + 2879) // 2880))
    (block,) = read_headers(path)
    for form in (block, block.header, effective_header(block.cards, {"BUNIT": "K"})):
        assert_corners_match(fp.outline(form), ref)


def _bytes(h):
    n = 4
    for i in range(1, h["NAXIS"] + 1):
        n *= h[f"NAXIS{i}"]
    return n


def test_readme_values_complete_the_wcs():
    h = make_header([100, 100])
    del h["CUNIT1"], h["CUNIT2"]
    eff = effective_header(h, {"CUNIT1": "deg", "CUNIT2": "deg", "CDELT3": "5000"})
    assert fp.outline(eff).n == 4


def test_no_celestial_axes_and_broken_wcs():
    spectrum = fits.Header({"NAXIS": 1, "NAXIS1": 100, "CTYPE1": "FREQ", "CRVAL1": 1e9, "CDELT1": 1e6,
                            "CRPIX1": 1})
    assert fp.outline(spectrum) is None
    assert fp.outline(fits.Header({"NAXIS": 0})) is None
    singular = make_header([10, 10], cdelt=(0.0, 1 / 3600))
    with pytest.raises(fp.FootprintError):
        fp.outline(singular)


def test_single_pixel_is_a_point():
    text = (CORPUS / "wcs" / "spectral" / "orion-freq-4.hdr").read_text()
    out = fp.outline(text)
    assert out.n == 1 and out.radius == 0
    assert (out.ra[0], out.dec[0]) == pytest.approx((83.81042, -5.375222))
    ra, dec = out.padded()
    assert ra.shape == (16,) and np.isnan(ra[1:]).all()


# ---------------------------------------------------------------------------- regions

def box(ra0, dec0, half):
    """A square of great-circle edges about (ra0, dec0), ``half`` degrees from centre to side."""
    h = fits.Header({"NAXIS": 2, "NAXIS1": 2, "NAXIS2": 2, "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN",
                     "CRVAL1": ra0, "CRVAL2": dec0, "CRPIX1": 1.5, "CRPIX2": 1.5,
                     "CDELT1": -2 * np.degrees(np.arctan(np.radians(half))),
                     "CDELT2": 2 * np.degrees(np.arctan(np.radians(half)))})
    out = fp.outline(h)
    return out.ra, out.dec


def test_ra_wrap():
    ra, dec = box(0.0, 10.0, 0.5)
    assert ra.min() < 1 and ra.max() > 359
    assert fp.contains_point(ra, dec, 0.2, 10.0)
    assert fp.contains_point(ra, dec, 359.8, 10.0)
    assert not fp.contains_point(ra, dec, 180.0, 10.0)
    assert not fp.contains_point(ra, dec, 1.0, 10.0)
    assert list(fp.contains_point(ra, dec, np.array([359.9, 0.1, 5.0]), np.array([10.0, 10.2, 10.0]))) == [
        True, True, False]
    right, rdec = box(0.8, 10.0, 0.5)  # overlaps across 0
    assert fp.overlaps(ra, dec, right, rdec)
    far, fdec = box(2.0, 10.0, 0.5)
    assert not fp.overlaps(ra, dec, far, fdec)
    assert fp.cone_overlaps(ra, dec, 359.0, 10.0, 0.6)
    assert not fp.cone_overlaps(ra, dec, 359.0, 10.0, 0.4)
    assert fp.cone_overlaps(ra, dec, 0.0, 10.0, 1e-6)  # a tiny cone inside


@pytest.mark.parametrize("dec0", [89.9, -89.9])
def test_near_the_poles(dec0):
    sign = np.sign(dec0)
    small = box(123.0, dec0, 0.05)  # stops 0.05 deg short of the pole
    assert fp.contains_point(*small, 123.0, dec0)
    assert fp.contains_point(*small, 123.0, sign * 89.94)
    assert not fp.contains_point(*small, 300.0, sign * 89.99)  # just across the pole
    assert not fp.cone_overlaps(*small, 0.0, sign * 90.0, 0.04)
    assert fp.cone_overlaps(*small, 0.0, sign * 90.0, 0.06)
    big = box(123.0, dec0, 0.15)  # holds the pole
    assert fp.contains_point(*big, 300.0, sign * 89.99)
    assert fp.contains_point(*big, 0.0, sign * 90.0)
    assert not fp.contains_point(*big, 123.0, -dec0)
    assert fp.overlaps(*big, *box(303.0, dec0, 0.1))  # the other side of the pole
    assert not fp.overlaps(*small, *box(303.0, dec0, 0.04))


def test_polygon_surrounding_a_pole():
    ra = np.array([0.0, 90.0, 180.0, 270.0])
    dec = np.full(4, 85.0)
    for r in (0.0, 45.0, 200.0, 359.9):
        assert fp.contains_point(ra, dec, r, 89.9)
        assert fp.contains_point(ra, dec, r, 86.5)  # great-circle edges reach 86.46 at RA 45
    assert fp.contains_point(ra, dec, 0.0, 90.0)
    assert not fp.contains_point(ra, dec, 45.0, 84.0)  # between vertices, below the edges
    assert not fp.contains_point(ra, dec, 0.0, -89.9)  # the antipode
    assert fp.cone_overlaps(ra, dec, 45.0, 80.0, 6.5)  # the edge passes 6.46 deg away
    assert not fp.cone_overlaps(ra, dec, 45.0, 80.0, 6.4)
    assert fp.overlaps(ra, dec, *box(10.0, 86.0, 0.2))
    assert not fp.overlaps(ra, dec, *box(10.0, 60.0, 1.0))
    # the same polygon in the other order
    assert fp.contains_point(ra[::-1], dec[::-1], 10.0, 89.0)


def test_too_large_polygons_are_refused():
    with pytest.raises(fp.FootprintError, match="too large"):
        fp.contains_point([0, 120, 240], [0, 0, 0], 0, 0)  # a great circle: no inside


def test_parse_polygon():
    ra, dec = fp.parse_polygon("359.5,-1 0.5,-1 0.5,1 359.5,1")
    assert list(ra) == [359.5, 0.5, 0.5, 359.5] and list(dec) == [-1, -1, 1, 1]
    ra, dec = fp.parse_polygon("12h30m49s,+12d23m28s; 12:31:00,+12:30:00 ;12h30m30s,12d35m")
    assert ra[0] == pytest.approx(187.704167, abs=1e-5) and dec[1] == pytest.approx(12.5)
    ra2, dec2 = fp.parse_polygon(fp.to_stcs(ra, dec))
    assert np.allclose(ra2, ra, atol=1e-6) and np.allclose(dec2, dec, atol=1e-6)
    assert fp.parse_polygon("POLYGON 10 10 11 10 11 11")[0].tolist() == [10, 11, 11]
    for bad, why in [("1,2 3,4", "at least 3"), ("1,2 3,4 5", "RA,DEC"), ("1,2 3,95 4,5", "beyond"),
                     ("0,0 1,0 0,1 1,1", "edges cross"), ("0,0 0,0 1,1", "repeated"),
                     ("x,1 2,3 4,5", "cannot read"), ("0,0 120,0 240,0", "too large")]:
        with pytest.raises(fp.FootprintError, match=why):
            fp.parse_polygon(bad)


# ---------------------------------------------------------- independent cross-checks

def _tangent(ra, dec, ra0, dec0):
    """Gnomonic projection about (ra0, dec0): great circles become straight lines."""
    v = fp.xyz(ra, dec)
    c = fp.xyz(ra0, dec0)
    e1 = np.cross([0, 0, 1.0], c)
    e1 = e1 / np.linalg.norm(e1) if np.linalg.norm(e1) > 0 else np.array([0, 1.0, 0])
    e2 = np.cross(c, e1)
    w = v @ c
    return np.column_stack([v @ e1 / w, v @ e2 / w])


quads = st.tuples(
    st.floats(0, 360), st.floats(-89.5, 89.5), st.floats(0.05, 3.0), st.floats(0, 180),
)


def _quad(ra0, dec0, size, rot):
    ang = np.radians(rot + np.array([0, 90, 180, 270]))
    rng = np.array([1.0, 0.6, 1.3, 0.8]) * size
    # destinations along bearings: a convex-ish quadrilateral about the centre
    d = np.radians(rng)
    lat0 = np.radians(dec0)
    lat = np.arcsin(np.sin(lat0) * np.cos(d) + np.cos(lat0) * np.sin(d) * np.cos(ang))
    lon = np.radians(ra0) + np.arctan2(np.sin(ang) * np.sin(d) * np.cos(lat0),
                                       np.cos(d) - np.sin(lat0) * np.sin(lat))
    return np.degrees(lon) % 360, np.degrees(lat)


@settings(max_examples=150, deadline=None)
@given(a=quads, dra=st.floats(-4, 4), ddec=st.floats(-4, 4), b=quads)
def test_overlaps_agrees_with_shapely_in_the_tangent_plane(a, dra, ddec, b):
    from shapely.geometry import Point, Polygon

    ara, adec = _quad(*a)
    bra, bdec = _quad((a[0] + dra) % 360, float(np.clip(a[1] + ddec, -89.5, 89.5)), b[2], b[3])
    pa = Polygon(_tangent(ara, adec, a[0], a[1]))
    pb = Polygon(_tangent(bra, bdec, a[0], a[1]))
    inter = pa.intersection(pb).area
    expected = pa.intersects(pb)
    if inter < 1e-10 and pa.distance(pb) < 1e-9:
        return  # touching: either answer is fine
    assert fp.overlaps(ara, adec, bra, bdec) == expected
    # point tests against shapely too
    pra, pdec = bra[0], bdec[0]
    q = Point(_tangent([pra], [pdec], a[0], a[1])[0])
    if pa.exterior.distance(q) > 1e-9:
        assert fp.contains_point(ara, adec, pra, pdec) == pa.contains(q)


@settings(max_examples=100, deadline=None)
@given(a=quads, dra=st.floats(-6, 6), ddec=st.floats(-6, 6), radius=st.floats(0.001, 4))
def test_cone_agrees_with_dense_sampling(a, dra, ddec, radius):
    ra, dec = _quad(*a)
    qra, qdec = (a[0] + dra) % 360, float(np.clip(a[1] + ddec, -90, 90))
    # distance to the boundary by sampling each great-circle edge densely
    v = fp.xyz(ra, dec)
    t = np.linspace(0, 1, 2001)[:, None]
    pts = []
    for p, q in zip(v, np.roll(v, -1, axis=0)):
        w = np.arccos(np.clip(p @ q, -1, 1))
        pts.append((np.sin((1 - t) * w) * p + np.sin(t * w) * q) / np.sin(w))
    pts = np.vstack(pts)
    dmin = np.degrees(np.arccos(np.clip(pts @ fp.xyz(qra, qdec), -1, 1))).min()
    inside = fp.contains_point(ra, dec, qra, qdec)
    step = np.degrees(max(np.arccos(np.clip(p @ q, -1, 1)) for p, q in zip(v, np.roll(v, -1, axis=0)))) / 2000
    if abs(dmin - radius) < step + 1e-9:
        return  # on the edge of the decision within sampling error
    assert fp.cone_overlaps(ra, dec, qra, qdec, radius) == (inside or dmin <= radius)


def test_many_rows_agree_with_single_tests():
    rng = np.random.default_rng(5)
    n = 300
    rows = [_quad(rng.uniform(0, 360) if i % 3 else rng.uniform(-1, 1) % 360,
                  rng.uniform(-89, 89) if i % 5 else rng.choice([-89.5, 89.5]),
                  rng.uniform(0.1, 2), rng.uniform(0, 90)) for i in range(n)]
    foot_ra = np.full((n, 16), np.nan)
    foot_dec = np.full((n, 16), np.nan)
    foot_n = np.zeros(n, int)
    for i, (r, d) in enumerate(rows):
        if i % 4 == 0:  # the same quadrilateral with its edge mid-points: 8 vertices
            v = fp.xyz(r, d)
            mids = v + np.roll(v, -1, axis=0)
            r, d = fp.radec(np.stack([v, mids], axis=1).reshape(-1, 3))
            rows[i] = (r, d)
        foot_ra[i, : len(r)], foot_dec[i, : len(r)] = r, d
        foot_n[i] = len(r)
    caps = [fp.cap(r, d) for r, d in rows]
    cra, cdec, crad = (np.array(x) for x in zip(*caps))
    queries = [(0.3, 1.0, 2.0), (180.0, 89.0, 3.0), (359.0, -88.0, 5.0), (45.0, 10.0, 30.0)]
    for qra, qdec, qr in queries:
        many = fp.cone_overlaps_many(foot_ra, foot_dec, foot_n, qra, qdec, qr)
        single = np.array([fp.cone_overlaps(r, d, qra, qdec, qr) for r, d in rows])
        assert np.array_equal(many, single)
        pre = fp.cap_prefilter(cra, cdec, crad, qra, qdec, qr)
        assert not np.any(many & ~pre)  # the prefilter never drops a hit
        inside = fp.contains_point_many(foot_ra, foot_dec, foot_n, qra, qdec)
        assert np.array_equal(inside, [fp.contains_point(r, d, qra, qdec) for r, d in rows])
        pra, pdec = box(qra, qdec, qr / 3)
        many = fp.polygon_overlaps_many(foot_ra, foot_dec, foot_n, pra, pdec)
        single = np.array([fp.overlaps(r, d, pra, pdec) for r, d in rows])
        assert np.array_equal(many, single)
    assert many.dtype == bool
    # a footprint identical to the query polygon, and one sharing an edge, overlap it
    same = fp.polygon_overlaps_many(foot_ra[:1], foot_dec[:1], foot_n[:1], rows[0][0], rows[0][1])
    assert same.tolist() == [True]
    # rows without a footprint never match; a one-vertex row is a point
    foot_n[:2] = [0, 1]
    got = fp.cone_overlaps_many(foot_ra[:2], foot_dec[:2], foot_n[:2], foot_ra[1, 0], foot_dec[1, 0], 1e-6)
    assert got.tolist() == [False, True]


def test_every_manga_hdu_matches_astropy():
    """All 88 real MaNGA DR17 HDU headers: the same footprints as astropy, or none where it has none."""
    compared = 0
    for hdr in sorted((CORPUS / "manga" / "headers-dr17").glob("*/*.hdr")):
        header = fits.Header.fromtextfile(hdr)
        out = fp.outline(header)
        ref = astropy_footprint(header)
        if ref is None:
            assert out is None or out.kind == "centre", hdr.name
            continue
        assert_corners_match(out, ref)
        compared += 1
    assert compared >= 70


@settings(max_examples=150, deadline=None)
@given(
    proj=st.sampled_from(["TAN", "SIN", "ARC", "CAR", "AIT", "ZEA", "NCP", "GLS", "XYZ", ""]),
    naxes=st.lists(st.integers(0, 3000), min_size=2, max_size=4),
    crval=st.tuples(st.floats(-720, 720), st.floats(-100, 100)),
    cdelt=st.tuples(st.floats(-10, 10), st.floats(-10, 10)),
    pc=st.floats(-2, 2),
    cunit=st.sampled_from(["deg", "DEG", "arcsec", "Hz", ""]),
)
def test_any_wcs_gives_a_footprint_none_or_a_clear_error(proj, naxes, crval, cdelt, pc, cunit):
    h = {"NAXIS": len(naxes), **{f"NAXIS{i}": n for i, n in enumerate(naxes, 1)},
         "CTYPE1": f"RA---{proj}" if proj else "RA", "CTYPE2": f"DEC--{proj}" if proj else "DEC",
         "CRVAL1": crval[0], "CRVAL2": crval[1], "CDELT1": cdelt[0], "CDELT2": cdelt[1],
         "CRPIX1": naxes[0] / 2, "CRPIX2": naxes[1] / 2, "PC1_2": pc, "CUNIT1": cunit, "CUNIT2": cunit}
    if len(naxes) > 2:
        h.update({"CTYPE3": "FREQ", "CRVAL3": 1e9, "CDELT3": 0.0, "PC3_1": pc})
    try:
        out = fp.outline(h)
    except fp.FootprintError as exc:
        assert str(exc)
        return
    if out is not None and out.kind != "polygon":  # no size (a 0 in naxes), or no polygon
        assert out.n == 0 and (out.kind == "centre") == (min(naxes[:2]) == 0)
        return
    if out is not None:
        assert 1 <= out.n <= fp.MAX_VERTICES
        assert np.all((out.ra >= 0) & (out.ra < 360)) and np.all(np.abs(out.dec) <= 90)
        assert out.radius >= 0


@settings(max_examples=60, deadline=None)
@given(
    proj=st.sampled_from(["TAN", "SIN", "ZEA", "ARC", "STG", "CAR", "MER", "AIT"]),
    crval=st.tuples(st.floats(0, 360), st.floats(-89.9, 89.9)),
    pix=st.floats(0.1, 60.0),            # arcsec
    size=st.tuples(st.integers(2, 2000), st.integers(2, 2000)),
    angle=st.floats(-180, 180),
    layout=st.sampled_from([(1, 2, 2), (1, 2, 3), (1, 2, 4), (2, 3, 3), (1, 3, 3), (2, 4, 4)]),
)
def test_random_headers_match_astropy(proj, crval, pix, size, angle, layout):
    """Random sky WCS (rotated, anywhere, sky axes anywhere among up to 4): astropy's corners."""
    a, b, naxis = layout
    h = fits.Header()
    h["NAXIS"] = naxis
    others = [i for i in range(1, naxis + 1) if i not in (a, b)]
    for i in range(1, naxis + 1):
        h[f"NAXIS{i}"] = size[0] if i == a else size[1] if i == b else 7 if i == others[0] else 1
    s = pix / 3600
    t = np.radians(angle)
    h[f"CTYPE{a}"], h[f"CTYPE{b}"] = f"RA---{proj}", f"DEC--{proj}"
    h[f"CRVAL{a}"], h[f"CRVAL{b}"] = crval
    h[f"CRPIX{a}"], h[f"CRPIX{b}"] = size[0] / 2 + 0.5, size[1] / 2 + 0.5
    h[f"CDELT{a}"], h[f"CDELT{b}"] = -s, s
    h[f"PC{a}_{a}"], h[f"PC{a}_{b}"] = np.cos(t), -np.sin(t)
    h[f"PC{b}_{a}"], h[f"PC{b}_{b}"] = np.sin(t), np.cos(t)
    for j, i in enumerate(others):
        h[f"CTYPE{i}"] = ("VRAD", "STOKES")[j]
        h[f"CRVAL{i}"], h[f"CDELT{i}"], h[f"CRPIX{i}"] = (1e5, 2e3, 1.0) if j == 0 else (1.0, 0.0, 1.0)
    ref = astropy_footprint(h)
    if ref is None:  # astropy cannot (singular Stokes CDELT = 0 in 4-D): compare with CDELT = 1
        fixed = h.copy()
        for i in others:
            if fixed[f"CTYPE{i}"] == "STOKES":
                fixed[f"CDELT{i}"] = 1.0
        ref = astropy_footprint(fixed)
    try:
        out = fp.outline(h)
    except fp.FootprintError:
        assert ref is None
        return
    if ref is None:
        return
    assert_corners_match(out, ref)

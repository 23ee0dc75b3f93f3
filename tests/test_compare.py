"""sfng compare: two maps of one source at different resolutions, on different grids, in
different flux scales: convolved to the common beam, B on A's grid, the statistics against what
was put in; cubes channel by channel; refusals (units, spectral axes, no beam, no overlap)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("radio_beam")
pytest.importorskip("scipy")
pytest.importorskip("reproject")

from _derive_store import gaussian2d, header

from sfng.errors import SfngError


def _write(path, data, h):
    from astropy.io import fits

    fits.PrimaryHDU(np.asarray(data, np.float32), h).writeto(path)
    return path


def _pair(tmp_path, scale=1.1, noise=0.0, seed=0):
    """A: a 12" source seen with a 5" beam on 1" pixels; B: the same source x ``scale`` seen with
    a 10" beam on 1.5" pixels, its grid shifted by 2.2" east and 1.3" north."""
    rng = np.random.default_rng(seed)
    src = 12.0
    # Jy/beam of a Gaussian source of FWHM s seen with beam b: peak scales with b^2 / (s^2 + b^2)
    ea = math.hypot(src, 5.0)
    a = 2.0 * gaussian2d(121, 121, ea) * (5.0 ** 2 / ea ** 2)
    ha = header(121, 121, pix_arcsec=1.0, bmaj=5.0)
    eb = math.hypot(src, 10.0)
    nb, pb = 91, 1.5
    # B's centre is 2.2" east and 1.3" north of the source: the source sits 2.2" west (+x: RA
    # grows to the left) and 1.3" south (-y) of B's centre
    shift_x, shift_y = 2.2 / pb, 1.3 / pb
    b = scale * 2.0 * gaussian2d(nb, nb, eb / pb, cx=(nb - 1) / 2 + shift_x, cy=(nb - 1) / 2 - shift_y) \
        * (10.0 ** 2 / eb ** 2)
    hb = header(nb, nb, pix_arcsec=pb, bmaj=10.0)
    cosd = math.cos(math.radians(hb["CRVAL2"]))
    hb["CRVAL1"] = ha["CRVAL1"] + 2.2 / 3600 / cosd       # B's centre 2.2" east ...
    hb["CRVAL2"] = ha["CRVAL2"] + 1.3 / 3600              # ... and 1.3" north of A's
    if noise:
        a = a + rng.normal(0, noise, a.shape)
        b = b + rng.normal(0, noise, b.shape)
    return _write(tmp_path / "a.fits", a, ha), _write(tmp_path / "b.fits", b, hb)


def test_maps_compared_at_the_common_beam_on_a_grid(tmp_path):
    from sfng.derive.compare import compare

    pa, pb = _pair(tmp_path)
    rep = compare(pa, pb)
    assert rep.beam["bmaj"] == pytest.approx(10.0, rel=1e-6) and rep.beam["bmin"] == pytest.approx(10.0, rel=1e-6)
    assert rep.shape == [121, 121] and rep.n_voxels > 5000
    # the same source at the same resolution, B 10% brighter: ratio 1.1, nearly perfect correlation
    assert rep.flux_ratio == pytest.approx(1.1, rel=5e-3)
    assert rep.correlation > 0.999
    assert rep.noise_a is None or rep.noise_a < 1e-12      # noiseless: at most the FFT's round-off


def test_noise_and_fidelity_from_noisy_maps(tmp_path):
    from sfng.derive.compare import compare

    pa, pb = _pair(tmp_path, scale=1.0, noise=0.01)
    rep = compare(pa, pb)
    assert rep.flux_ratio == pytest.approx(1.0, rel=0.03)
    # A's noise after convolution 5" -> 10": the white noise is smoothed, its rms falls, not zero
    assert rep.noise_a is not None and 0 < rep.noise_a < 0.01
    assert rep.fidelity is not None and rep.fidelity > 3
    assert abs(rep.difference["mean"]) < 0.01


def test_cubes_plane_by_plane_and_refusals(tmp_path):
    from sfng.derive.compare import compare

    n = 5
    base = gaussian2d(41, 41, 6.0)
    ha = header(41, 41, pix_arcsec=1.0, bmaj=4.0, nchan=n, bunit="K")
    hb = header(41, 41, pix_arcsec=1.0, bmaj=6.0, nchan=n, bunit="mK")
    prof = np.exp(-0.5 * ((np.arange(n) - 2) / 1.0) ** 2)
    pa = _write(tmp_path / "ca.fits", prof[:, None, None] * base, ha)
    pb = _write(tmp_path / "cb.fits", 1000.0 * prof[:, None, None] * base, hb)    # the same in mK
    rep = compare(pa, pb)
    assert rep.shape == [n, 41, 41] and rep.beam["bmaj"] == pytest.approx(6.0, rel=1e-6)
    assert rep.bunit == "K"
    # A is convolved 4" -> 6" (K: no area scaling, the sum kept but for what leaves the edges),
    # B, in mK, is already at 6" and is read in K: the ratio is sum(B) / sum(A convolved)
    from sfng.derive.beams import kernel_beam
    from sfng.derive.convolution import convolve_plane, kernel_array

    from sfng.derive.compare import COVERAGE_MIN
    from sfng.derive.convolution import coverage_plane

    kern = kernel_array(kernel_beam({"bmaj": 4.0, "bmin": 4.0, "bpa": 0.0}, {"bmaj": 6.0, "bmin": 6.0, "bpa": 0.0}), 1.0)
    conv_a = np.stack([convolve_plane(p * base, kern) for p in prof])
    inner = coverage_plane(np.ones_like(base, dtype=bool), kern) >= COVERAGE_MIN   # away from the edges
    want = (prof[:, None, None] * base)[:, inner].sum() / conv_a[:, inner].sum()
    assert rep.flux_ratio == pytest.approx(want, rel=1e-6) and rep.n_voxels == n * int(inner.sum())
    # another spectral axis is refused, as are other units and a missing beam
    hc = header(41, 41, pix_arcsec=1.0, bmaj=6.0, nchan=n, bunit="K", v0_ms=-40000.0)
    pc = _write(tmp_path / "cc.fits", prof[:, None, None] * base, hc)
    with pytest.raises(SfngError, match="spectral"):
        compare(pa, pc)
    hj = header(41, 41, pix_arcsec=1.0, bmaj=6.0, nchan=n, bunit="Jy/beam")
    pj = _write(tmp_path / "cj.fits", prof[:, None, None] * base, hj)
    with pytest.raises(SfngError, match="jy2k"):
        compare(pa, pj)
    hn = header(41, 41, pix_arcsec=1.0, bmaj=6.0, nchan=n, bunit="K")
    for k in ("BMAJ", "BMIN", "BPA"):
        del hn[k]
    pn = _write(tmp_path / "cn.fits", prof[:, None, None] * base, hn)
    with pytest.raises(SfngError, match="beam"):
        compare(pa, pn)
    ho = header(41, 41, pix_arcsec=1.0, bmaj=6.0, nchan=n, bunit="K")
    ho["CRVAL1"] += 1.0                                        # a degree away: no overlap
    po = _write(tmp_path / "co.fits", prof[:, None, None] * base, ho)
    with pytest.raises(SfngError, match="in common"):
        compare(pa, po)


def test_cli_json_and_page(tmp_path, cli):
    pa, pb = _pair(tmp_path, noise=0.01)
    page = tmp_path / "page.png"
    r = cli("compare", pa, pb, "-o", page, "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output[r.output.index("{"):])
    assert got["flux_ratio"] == pytest.approx(1.1, rel=0.03) and got["png"] == str(page)
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cli("compare", pa, pb, "-o", page)
    assert r.exit_code == 1 and "exists" in r.output
    r = cli("compare", pa, pb, "--beam", "3,3,0")
    assert r.exit_code == 1 and "smaller" in r.output
    r = cli("compare", pa, tmp_path / "missing.fits")
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_edges_and_blanks_do_not_bias_the_statistics(tmp_path):
    """Two identical flat 1 K maps, one at 5" and one at 15": after convolving the first to 15"
    its edges fall (zero padding); only pixels the edges do not reach are compared."""
    from sfng.derive.compare import compare

    n = 128
    a = np.ones((n, n))
    a[30:34, 30:34] = np.nan                                         # a hole as well
    pa = _write(tmp_path / "a.fits", a, header(n, n, bmaj=5.0, bunit="K"))
    pb = _write(tmp_path / "b.fits", np.ones((n, n)), header(n, n, bmaj=15.0, bunit="K"))
    rep = compare(pa, pb)
    assert rep.flux_ratio == pytest.approx(1.0, rel=1e-3) and abs(rep.difference["mean"]) < 1e-3
    assert 0 < rep.n_voxels < n * n // 2


def test_degenerate_axes_per_pixel_units_and_a_zero_map(tmp_path):
    from sfng.derive.compare import compare

    pa, pb = _pair(tmp_path)
    from astropy.io import fits

    with fits.open(pa) as h:
        data, hdr = h[0].data, h[0].header.copy()
    hdr["CTYPE3"], hdr["CRVAL3"], hdr["CDELT3"], hdr["CRPIX3"] = "FREQ", 1.4e9, 1e6, 1.0
    hdr["CTYPE4"], hdr["CRVAL4"], hdr["CDELT4"], hdr["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    p4 = _write(tmp_path / "a4.fits", data[None, None], hdr)        # (1, 1, ny, nx): an image
    assert compare(p4, pb).shape == [121, 121]
    hp = header(121, 121, bmaj=5.0, bunit="Jy/pixel")
    pp = _write(tmp_path / "pp.fits", data, hp)
    with pytest.raises(SfngError, match="per pixel"):
        compare(pp, pp)
    z = _write(tmp_path / "z.fits", np.zeros_like(data), header(121, 121, bmaj=5.0))
    rep = compare(z, pb, png=tmp_path / "z.png")                    # sum(A) = 0: no ratio, still a page
    assert rep.flux_ratio is None and (tmp_path / "z.png").is_file()

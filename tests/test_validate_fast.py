"""The validator's fast paths mean what the slow ones mean.

* the WCS rule (3): WCSLIB on the header text without its commentary cards accepts a header
  exactly when ``astropy.wcs.WCS`` does, on every image HDU of the real corpus
  (tests/data/corpus) and of the demo store;
* illegal cards: the one-pattern check of a whole header equals the card-by-card loop;
* ``read_headers(until_image=True)``: the leading blocks of a full read, and the same errors
  for damage in the HDUs it does not return;
* ``validate_file(blocks=...)`` (what the index crawler hands over) gives the report of a
  validation that reads the file itself.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.fitsheader import FitsHeaderError, _sizing_cards, _sizing_text, parse_cards, read_headers
from sfng.header import effective_header
from sfng.validate import validate_file
from sfng.validate import reader
from sfng.validate.checks import Subject, _wcslib

CORPUS = Path(__file__).parent / "data" / "corpus"


def _astropy_accepts(text: str) -> bool:
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            WCS(fits.Header.fromstring(text))
        except Exception:  # noqa: BLE001 - any failure means astropy cannot use the WCS
            return False
    return True


def _has_wcs_keys(text: str) -> bool:
    # astropy.wcs.WCS builds a default pixel WCS for a header without any WCS keyword, where
    # WCSLIB (and the validator) report "no WCS keywords": both are errors of rule 3, compared
    # elsewhere (test_validate); here only headers that state a WCS
    from sfng.footprint import wcs_text

    return any(c[:5] in ("CTYPE", "CRVAL", "CRPIX", "CDELT") for c in
               (wcs_text(text)[i:i + 80] for i in range(0, len(wcs_text(text)), 80)))


def _image_hdus(paths):
    for p in paths:
        op = reader.open_file(p)
        for h in op.hdus:
            if h.xtension in (None, "IMAGE") and h.shape and h.text and _has_wcs_keys(h.text):
                yield p, h


def _judge_wcs(h) -> bool:
    eff = effective_header(list(h.header.items()), {})
    w, _err, _singular = _wcslib(Subject(eff=eff, text=h.text, xtension=h.xtension, shape=tuple(h.shape)))
    return w is not None


def test_wcs_rule_agrees_with_astropy_wcs_on_the_corpus():
    hdus = list(_image_hdus(sorted(CORPUS.rglob("*.hdr"))))
    assert len(hdus) > 100
    differ = [(p.name, h.index) for p, h in hdus if _judge_wcs(h) != _astropy_accepts(h.text)]
    assert differ == []


def test_wcs_rule_agrees_with_astropy_wcs_on_the_demo_files(tmp_path_factory):
    from _demo_store import demo_tree

    tree = demo_tree(tmp_path_factory)
    root = Path(tree.store_dir)
    files = sorted(p for t in ("data", "derived") for p in (root / t).rglob("*.fits*")
                   if p.is_file() and not p.is_symlink())
    hdus = list(_image_hdus(files))
    assert len(hdus) >= 10
    differ = [(p.name, h.index) for p, h in hdus if _judge_wcs(h) != _astropy_accepts(h.text)]
    assert differ == []


def test_wcs_rule_rejects_what_astropy_rejects():
    good = fits.Header()
    good.update(NAXIS=2, NAXIS1=10, NAXIS2=10, CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=10.0,
                CRVAL2=20.0, CRPIX1=5.0, CRPIX2=5.0, CDELT1=-1e-3, CDELT2=1e-3)
    good.add_history("a HISTORY card WCSLIB skips")
    good.add_comment("and a COMMENT")
    bad = good.copy()
    bad["CTYPE1"] = "RA---XYZ"  # no such projection
    for h, ok in ((good, True), (bad, False)):
        text = h.tostring()
        hdu = reader.HDU(0, h, text, None, (10, 10), 400)
        assert _judge_wcs(hdu) is ok
        assert _astropy_accepts(text) is ok


# ----------------------------------------------------------------------------- illegal cards

def _slow_illegal(text):
    return reader._illegal_each(text, text.isascii() and text.isprintable())


def _corpus_texts():
    out = []
    for p in sorted(CORPUS.rglob("*.hdr"))[::4]:
        out += [h.text for h in reader.open_file(p).hdus if h.text]
    return out


_TEXTS = _corpus_texts()
_ALPHABET = "ABCXYZ019_- ='/().,+-EeDdTF&\t\x7f\xe9"


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, 10**6), seed=st.integers(0, 10**6), edits=st.integers(1, 4))
def test_illegal_cards_fast_path_equals_card_by_card(which, seed, edits):
    rng = random.Random(seed)
    text = _TEXTS[which % len(_TEXTS)]
    cards = [text[i:i + 80] for i in range(0, len(text), 80)]
    j = rng.randrange(len(cards))
    c = list(cards[j])
    for _ in range(edits):
        c[rng.randrange(80)] = rng.choice(_ALPHABET)
    cards[j] = "".join(c)
    mutated = "".join(cards)
    assert reader.illegal_cards(mutated) == _slow_illegal(mutated)


def test_illegal_cards_fast_path_on_the_corpus():
    for text in _TEXTS:
        assert reader.illegal_cards(text) == _slow_illegal(text) == []


def test_illegal_cards_remembers_only_legal_cards(monkeypatch):
    """Legal cards are remembered; a bad card beside remembered ones is still found, every
    time, and the memo's bound clears it rather than growing."""
    text = _TEXTS[0]
    reader._LEGAL_SEEN.clear()
    assert reader.illegal_cards(text) == []
    remembered = set(reader._LEGAL_SEEN)
    assert remembered and all(c in text for c in remembered)
    bad = "BAD KEY = 1".ljust(80)
    for _ in range(2):
        assert reader.illegal_cards(text + bad) == [bad.rstrip()] == _slow_illegal(text + bad)
    assert bad not in reader._LEGAL_SEEN
    monkeypatch.setattr(reader, "_LEGAL_SEEN_MAX", len(remembered))
    other = "NEWKEY  =                    5".ljust(80)
    assert reader.illegal_cards(text + other) == []
    assert reader._LEGAL_SEEN == {other}


# ----------------------------------------------------------------------------- until_image

def _mef(path, extra_bitpix=None, truncate=0):
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(data=[[1.0, 2.0], [3.0, 4.0]], name="SCI")]
    hdus += [fits.ImageHDU(data=[1, 2, 3], name=f"E{i}") for i in range(3)]
    fits.HDUList(hdus).writeto(path)
    raw = bytearray(path.read_bytes())
    if extra_bitpix is not None:  # damage the last extension's BITPIX
        j = raw.rfind(b"BITPIX  = ")
        raw[j:j + 80] = f"BITPIX  = {extra_bitpix:>20}".ljust(80).encode()
    if truncate:
        raw = raw[:-truncate]
    path.write_bytes(bytes(raw))
    return path


def test_until_image_returns_the_leading_blocks(tmp_path):
    p = _mef(tmp_path / "m.fits")
    full = read_headers(p)
    lead = read_headers(p, until_image=True)
    assert [b.index for b in lead] == [0, 1]
    assert [(b.cards, b.data_size, b.text) for b in lead] == [(b.cards, b.data_size, b.text) for b in full[:2]]


@pytest.mark.parametrize("damage", [{"extra_bitpix": "-32.0"}, {"extra_bitpix": 7}, {"truncate": 2880}])
def test_until_image_finds_damage_past_the_image(tmp_path, damage):
    p = _mef(tmp_path / "d.fits", **damage)
    with pytest.raises(FitsHeaderError) as full:
        read_headers(p)
    with pytest.raises(FitsHeaderError) as lead:
        read_headers(p, until_image=True)
    assert lead.value.reason == full.value.reason
    assert validate_file(p).rule_ids() == [reader._classify_reason(full.value.reason)]


@settings(max_examples=200, deadline=None)
@given(naxis=st.integers(0, 4), bitpix=st.sampled_from(["8", "-32", "+16", "-32.0", "1E1", "'8'", "T"]),
       pcount=st.sampled_from(["0", "00", "- 1", "5 / heap"]), swap=st.booleans())
def test_sizing_cards_equal_a_full_parse(naxis, bitpix, pcount, swap):
    keys = [("XTENSION", "'IMAGE   '"), ("BITPIX", bitpix), ("NAXIS", str(naxis))]
    keys += [(f"NAXIS{i}", str(i * 3)) for i in range(1, naxis + 1)]
    keys += [("PCOUNT", pcount), ("GCOUNT", "1"), ("EXTNAME", "'X'"), ("NAXIS1", "99")]
    if swap and naxis:
        keys[3], keys[-1] = keys[-1], keys[3]
    text = "".join(f"{k:<8}= {v:>20}".ljust(80) for k, v in keys)
    fast = dict((k, v) for k, v in reversed(_sizing_cards(text)))
    slow = dict((k, v) for k, v in reversed(parse_cards(_sizing_text(text))))
    for k in ("BITPIX", "NAXIS", "PCOUNT", "GCOUNT", *(f"NAXIS{i}" for i in range(1, naxis + 1))):
        assert fast.get(k) == slow.get(k) and type(fast.get(k)) is type(slow.get(k))


# ----------------------------------------------------------------------------- handed blocks

def test_validate_file_on_handed_blocks_equals_reading(tmp_path_factory):
    from _demo_store import demo_tree

    tree = demo_tree(tmp_path_factory)
    root = Path(tree.store_dir)
    files = sorted(p for t in ("data", "derived") for p in (root / t).rglob("*.fits*")
                   if p.is_file() and not p.is_symlink())
    assert files
    for p in files:
        read = validate_file(p, root, readme_metadata={})
        handed = validate_file(p, root, readme_metadata={}, blocks=read_headers(p),
                               tree=read.display.split("/")[0], display=read.display)
        assert [(q.rule_id, q.message) for q in handed.problems] == \
            [(q.rule_id, q.message) for q in read.problems], p
        assert handed.hdu == read.hdu


def _set_card(raw: bytearray, key: str, value: str, last: bool = True) -> None:
    field = f"{key:<8}= ".encode()
    j = raw.rfind(field) if last else raw.find(field)
    raw[j:j + 80] = f"{key:<8}= {value:>20}".ljust(80).encode()


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(["BITPIX", "NAXIS", "NAXIS1", "PCOUNT", "GCOUNT"]),
       value=st.sampled_from(["8", "-32", "+16", "-32.0", "7", "-1", "0", "2", "99999999999", "'8'",
                              "T", "1 / c", "", "1E1"]),
       cut=st.sampled_from([0, 1, 2880, 5000]))
def test_until_image_walk_equals_a_full_read(tmp_path_factory, key, value, cut):
    p = _mef(tmp_path_factory.mktemp("w") / "w.fits")
    raw = bytearray(p.read_bytes())
    _set_card(raw, key, value)
    if cut:
        raw = raw[:-cut]
    p.write_bytes(bytes(raw))
    try:
        full = [(b.index, b.data_size) for b in read_headers(p)][:2]
    except FitsHeaderError as exc:
        full = exc.reason
    try:
        lead = [(b.index, b.data_size) for b in read_headers(p, until_image=True)]
    except FitsHeaderError as exc:
        lead = exc.reason
    assert lead == full


# ----------------------------------------------------------------------------- shared verdicts

def _with_cards(text: str, cards: dict) -> str:
    """``text`` with the cards of ``cards`` (keyword -> value text) replaced, else appended."""
    out = [text[i:i + 80] for i in range(0, len(text), 80)]
    end = next((i for i, c in enumerate(out) if c.startswith("END ")), len(out))
    for key, value in cards.items():
        image = f"{key:<8}= {value:>20}".ljust(80)[:80]
        at = [i for i, c in enumerate(out[:end]) if c[:8].rstrip() == key]
        if at:
            out[at[-1]] = image
        else:
            out.insert(end, image)
            end += 1
    return "".join(out)


def _check_wcs_findings(text: str, shape, fresh: bool):
    from sfng.validate import checks

    if fresh:
        checks._VERDICTS.clear()
    h = fits.Header.fromstring(text)
    eff = effective_header([(k, v) for k, v in h.items()], {})
    s = Subject(eff=eff, text=text, xtension=None, shape=tuple(shape))
    return [(f.rule_id, sorted(f.details.items())) for f in checks.check_wcs(s)]


_CRVALS = ["10.5", "359.999", "-45.0", "89.9999", "-89.9999", "90.0", "-90.0", "95.0", "1E300",
           "'ten'", "0", "-720.25"]
_SPECTRAL_TYPES = ["'FREQ    '", "'VRAD    '", "'VELO    '", "'WAVE    '", "'VOPT    '", "'ZOPT    '",
                   "'BETA    '", "'VELO-LSR'", "'FELO-HEL'", "'VELO-HEL'", "'FREQ-OBS'", "'FELO-LSD'",
                   "'VOPT-F2W'", "'FREQ-LOG'", "'WAVE-TAB'"]
_SPECTRAL_CRVALS = ["1.4204E9", "0.0", "-3.0E8", "2.99792458E8", "4.0E8", "1E300", "-1.0",
                    "'x'", "5.0E5"]
_DATES = [None, "'2004-03-11T05:00:00'", "'garbage!'", "'1980-01-01'"]
_FRAMES = [None, "'ICRS'", "'FK5'", "'FK4'", "'GAPPT'"]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_shared_wcslib_verdicts_equal_a_parse_per_file(data):
    """Files of one grid share WCSLIB's verdict (``checks._verdict_key``: dates and, for
    zenithal projections off the poles, the sky CRVAL left out): every finding equals the one
    of a fresh parse, whatever CRVAL, dates, frame or projection (the corpus' projection
    headers, zenithal or not) a file has."""
    texts = _projection_texts()
    text = data.draw(st.sampled_from(texts))
    h = fits.Header.fromstring(text)
    n = int(h.get("NAXIS", 2) or 2)
    shape = tuple(int(h.get(f"NAXIS{i}", 8) or 8) for i in range(1, n + 1)) or (8, 8)
    lng, lat = ("CRVAL1", "CRVAL2") if not str(h.get("CTYPE1", "")).startswith(("DEC", "GLAT", "ELAT")) \
        else ("CRVAL2", "CRVAL1")
    spectral = data.draw(st.sampled_from([None, None, *_SPECTRAL_TYPES]))
    if spectral:
        shape = (*shape[:2], 16)
    family = data.draw(st.sampled_from([None, None, "PC", "CD", "CD00"]))
    velref = data.draw(st.sampled_from([None, "1", "3", "257", "258"]))   # AIPS: optical, radio
    variants = []
    for _ in range(data.draw(st.integers(2, 5))):
        cards = {lng: data.draw(st.sampled_from(_CRVALS)), lat: data.draw(st.sampled_from(_CRVALS))}
        if family:   # a mosaic turned its own way (or a singular, unreadable or doubled matrix)
            cards.update(_turn(family, data.draw(st.sampled_from(_TURNS))))
        date = data.draw(st.sampled_from(_DATES))
        frame = data.draw(st.sampled_from(_FRAMES))
        if date:
            cards["DATE-OBS"] = date
        if frame:
            cards["RADESYS"] = frame
        if data.draw(st.booleans()):
            cards["EQUINOX"] = data.draw(st.sampled_from(["1950.0", "2000.0", "1975.5"]))
        if spectral:   # a third, spectral axis starting anywhere (linear or not)
            cards.update({"NAXIS": "3", "NAXIS3": "16", "CTYPE3": spectral, "CRPIX3": "8.0",
                          "CDELT3": "-2.5E4", "CRVAL3": data.draw(st.sampled_from(_SPECTRAL_CRVALS))})
            if velref:
                cards["VELREF"] = velref
            if data.draw(st.booleans()):
                cards["RESTFRQ"] = data.draw(st.sampled_from(["1.420405752E9", "0.0", "-5.0"]))
        variants.append(_with_cards(text, cards))
    shared = [_check_wcs_findings(t, shape, fresh=False) for t in variants]
    fresh = [_check_wcs_findings(t, shape, fresh=True) for t in variants]
    assert shared == fresh


#: (angle in degrees, scale in degrees per pixel, what else): turns of a sky matrix.
_TURNS = [(0.0, 1e-3, ""), (30.0, 1e-3, ""), (-45.0, 2.5e-4, ""), (90.0, 1e-3, ""),
          (179.5, 1e-3, ""), (30.0, 1e-3, "singular"), (30.0, 1e-3, "text"), (30.0, 1e-3, "coupled"),
          (10.0, 1e-3, "doubled"), (30.0, 0.0, "")]


def _turn(family: str, turn) -> dict:
    """The cards of a turned sky matrix of ``family`` (PC: with CDELT; CD; CD00: CD001001 ...)."""
    import math

    angle, scale, what = turn
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    m = [[-c, s], [s, c]] if what != "singular" else [[c, s], [c, s]]
    name = (lambda i, j: f"CD{i:03d}{j:03d}") if family == "CD00" else (lambda i, j: f"{family[:2]}{i}_{j}")
    cards = {name(i + 1, j + 1): repr(m[i][j] * (1.0 if family == "PC" else scale) or 0.0)
             for i in range(2) for j in range(2)}
    if family == "PC":
        cards.update({"CDELT1": repr(-scale), "CDELT2": repr(scale)})
    if what == "text":
        cards[name(1, 2)] = "'x'"
    if what == "coupled":
        cards[name(1, 3)] = "0.5"
    if what == "doubled":   # one term in both forms
        cards["CD001002" if family != "CD00" else "CD1_2"] = "7.0E-4"
    return cards


_PROJECTION_TEXTS: list = []


def _projection_texts() -> list:
    """Image headers of the corpus with a celestial WCS: WCSLIB's projection test headers
    (every projection) and MaNGA's."""
    if not _PROJECTION_TEXTS:
        for p in sorted(CORPUS.rglob("*.hdr")):
            for h in reader.open_file(p).hdus:
                if h.xtension in (None, "IMAGE") and h.text and "CTYPE2" in h.text and "CRVAL2" in h.text:
                    _PROJECTION_TEXTS.append(h.text)
        assert len(_PROJECTION_TEXTS) > 20
    return _PROJECTION_TEXTS


def test_shared_verdicts_parse_once_per_grid():
    """The point of sharing: 50 files of one TAN grid pointing at 50 places are parsed once."""
    from sfng.validate import checks

    from _grids import one_grid

    checks._VERDICTS.clear()
    for h in one_grid(50, 64, 1e-3, seed=3, max_lat=80.0, OBJECT=lambda i: f"field {i}",
                      **{"DATE-OBS": lambda i: f"2010-01-{1 + i % 28:02d}"}):
        assert _check_wcs_findings(h.tostring(), (64, 64), fresh=False) == []
    assert len(checks._VERDICTS) == 1


def test_a_fiducial_point_off_the_pole_gets_its_own_verdict():
    """TAN with PV1_1/PV1_2 (phi0, theta0) moved off the pole: WCSLIB's verdict depends on
    CRVAL, so files of that grid are not shared (found by a review: a good file after a bad
    one was reported unreadable, and the reverse)."""
    base = fits.Header()
    base.update(NAXIS=2, NAXIS1=64, NAXIS2=64, CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=32.5,
                CRPIX2=32.5, CDELT1=-1e-3, CDELT2=1e-3, CRVAL1=10.0, PV1_1=0.0, PV1_2=10.0, LONPOLE=90.0)
    texts = []
    for lat in (5.0, 40.0, 5.0):
        h = base.copy()
        h["CRVAL2"] = lat
        texts.append(h.tostring())
    shared = [_check_wcs_findings(t, (64, 64), fresh=False) for t in texts]
    fresh = [_check_wcs_findings(t, (64, 64), fresh=True) for t in texts]
    assert shared == fresh


def test_turned_mosaics_share_one_verdict_and_a_coupled_one_does_not():
    """50 mosaics of one TAN grid, each turned its own way (CD matrix), are parsed once and
    found good; a term coupling a sky axis to the spectral axis puts the matrix back in the key."""
    from sfng.validate import checks

    from _grids import one_grid

    rng = random.Random(8)
    checks._VERDICTS.clear()
    for h in one_grid(50, 64, 1e-3, seed=4, max_lat=80.0):
        text = _with_cards(h.tostring(), _turn("CD", (rng.uniform(-180, 180), 1e-3, "")))
        assert _check_wcs_findings(text, (64, 64), fresh=False) == []
    assert len(checks._VERDICTS) == 1
    checks._VERDICTS.clear()
    for h in one_grid(3, 64, 1e-3, seed=5, max_lat=80.0):
        cards = {**_turn("CD", (rng.uniform(-180, 180), 1e-3, "coupled")), "NAXIS": "3", "NAXIS3": "4",
                 "CTYPE3": "'FREQ    '", "CRVAL3": "1.4E9", "CDELT3": "1.0E5", "CRPIX3": "1.0"}
        _check_wcs_findings(_with_cards(h.tostring(), cards), (64, 64, 4), fresh=False)
    assert len(checks._VERDICTS) == 3

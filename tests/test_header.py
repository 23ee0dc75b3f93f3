"""The effective header: README defaults overlaid by the file's header, with provenance."""

from astropy.io import fits

from sfng.header import ReadmeCache, effective_header, readme_for, survey_of
from sfng.readme import render


def test_file_wins_and_provenance():
    h = fits.Header()
    h["BUNIT"] = "JY/BEAM"
    h["BMAJ"] = 0.0016
    h.add_history("AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")
    eff = effective_header(h, {"BUNIT": "K", "BMIN": 0.0015, "MAPTYPE": "HI"})
    assert eff["BUNIT"] == "JY/BEAM" and eff.origin("BUNIT") == "file"
    assert eff["BMIN"] == 0.0015 and eff.origin("BMIN") == "readme"
    assert eff.from_readme() == ["BMIN", "MAPTYPE"]
    assert eff.history == ["AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"]
    assert "HISTORY" not in eff


def test_accepts_card_lists_and_mappings():
    eff = effective_header([("NAXIS", 2), ("HISTORY", "x"), ("BUNIT", "K")], None)
    assert dict(eff) == {"NAXIS": 2, "BUNIT": "K"} and eff.history == ["x"]
    assert dict(effective_header({"A": 1}, {"A": 2, "B": 3})) == {"A": 1, "B": 3}


def test_readme_for_in_store(store):
    d = store.survey_dir("HERACLES")
    d.mkdir()
    (d / "HERACLES_README.txt").write_text(render({"BUNIT": "K"}, "prose"))
    f = d / "MESSIER_074.NGC0628_hera_co21.cube.fits"
    f.write_bytes(b"")
    assert survey_of(f, store.root) == ("data", "HERACLES")
    assert readme_for(f, store.root) == d / "HERACLES_README.txt"
    assert ReadmeCache().get(readme_for(f, store.root)).metadata == {"BUNIT": "K"}


def test_readme_for_outside_store(tmp_path):
    d = tmp_path / "THINGS"
    d.mkdir()
    (d / "THINGS_README.txt").write_text("---\n")
    assert readme_for(d / "x.fits") == d / "THINGS_README.txt"
    assert readme_for(tmp_path / "y.fits") is None


def test_readme_cache_reports_errors_every_time(tmp_path):
    import pytest

    from sfng.errors import ReadmeError

    p = tmp_path / "X_README.txt"
    p.write_text("bad line\n---\n")
    cache = ReadmeCache()
    for _ in range(2):
        with pytest.raises(ReadmeError, match="X_README.txt:1"):
            cache.get(p)

import pytest

from sfng import tracers
from sfng.errors import SfngError


@pytest.fixture(scope="module")
def voc():
    return tracers.vocabulary()


@pytest.mark.parametrize("alias,canonical", [
    ("CO10", "CO(1-0)"), ("CO(1-0)", "CO(1-0)"), ("12CO(1-0)", "CO(1-0)"), ("co 1-0", "CO(1-0)"),
    ("CO21", "CO(2-1)"), ("HI21CM", "HI"), ("hi", "HI"), ("Ha", "HALPHA"), ("H-alpha", "HALPHA"),
    ("24um", "MIPS24"), ("spire250", "SPIRE250"), ("PACS160", "PACS160"), ("IRAC3.6", "IRAC3.6"),
    ("irac8.0", "IRAC8.0"), ("FUV", "FUV"), ("NUV", "NUV"), ("CONTINUUM", "CONTINUUM"),
])
def test_aliases(voc, alias, canonical):
    assert voc.lookup(alias) == canonical


def test_unknown_tracer_suggests_nearest(voc):
    with pytest.raises(SfngError) as e:
        voc.lookup("CO1O")
    assert "CO(1-0)" in str(e.value) and "did you mean" in str(e.value)
    with pytest.raises(SfngError):
        tracers.lookup("NOT-A-TRACER-AT-ALL")


@pytest.mark.parametrize("restfrq,name", [
    (115.2712018e9, "CO(1-0)"), (230.538e9, "CO(2-1)"), (1.420405752e9, "HI"), (1.42040575e9, "HI"),
    (110.2013543e9, "13CO(1-0)"), (88.631847e9, "HCN(1-0)"),
])
def test_from_rest_frequency(voc, restfrq, name):
    assert voc.infer({"RESTFRQ": restfrq}) == (name, "restfrq")
    assert voc.infer({"RESTFREQ": restfrq}) == (name, "restfrq")


def test_maptype_first_and_instrument_and_filter(voc):
    assert voc.infer({"MAPTYPE": "CO10", "RESTFRQ": 230.538e9}) == ("CO(1-0)", "maptype")
    assert voc.infer({"INSTRUME": "MIPS", "WAVELENG": 24.0}) == ("MIPS24", "instrument")
    assert voc.infer({"INSTRUME": "SPIRE", "WAVELENG": 250e-6}) == ("SPIRE250", "instrument")
    assert voc.infer({"INSTRUME": "PACS", "WAVELENG": 160.0}) == ("PACS160", "instrument")
    assert voc.infer({"TELESCOP": "KPNO", "FILTER": "KP1563"}) == ("HALPHA", "filter")
    assert voc.infer({"FILTER": "FUV"}) == ("FUV", "filter")


def test_never_guessed_from_nothing(voc):
    assert voc.infer({}) == (None, "")
    assert voc.infer({"RESTFRQ": 100.0e9, "INSTRUME": "MIPS"}) == (None, "")
    assert voc.infer({"INSTRUME": "MIPS", "WAVELENG": 40.0}) == (None, "")
    # a MAPTYPE outside the vocabulary is what the data declare: kept as written
    assert voc.infer({"MAPTYPE": "NH3(1,1)"}) == ("NH3(1,1)", "maptype")


def test_store_extends_vocabulary(store):
    import yaml

    cfg = store.root / "sfng.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["tracers"] = {"HCN(4-3)": ["HCN43"], "CO(1-0)": ["COONE"],
                       "NH3(1,1)": {"aliases": ["NH311"], "restfrq": 23.6944955e9}}
    cfg.write_text(yaml.safe_dump(data))
    from sfng.store import Store

    s = Store.open(store.root)
    voc = tracers.for_store(s)
    assert voc.lookup("hcn43") == "HCN(4-3)"
    assert voc.lookup("COONE") == "CO(1-0)" and voc.lookup("CO10") == "CO(1-0)"
    assert voc.infer({"RESTFRQ": 23.6944955e9}) == ("NH3(1,1)", "restfrq")
    assert tracers.lookup("NH311", store=s) == "NH3(1,1)"


def test_vocabulary_has_no_ambiguous_alias():
    voc = tracers.vocabulary()
    owner = {}
    for t in voc.tracers.values():
        for n in (t.name, *t.aliases):
            k = tracers.normalise(n)
            assert owner.setdefault(k, t.name) == t.name, (n, owner[k], t.name)


def test_plugin_tracers_are_in_the_vocabulary(voc):
    manga = pytest.importorskip("sfng.surveys.manga")
    names = {t for _, _, t, _ in getattr(manga, "MAPS_TRACERS", [])}
    names |= {t for _, t, _, _ in getattr(manga, "GZ3D_HDUS", [])} | {"OPTICAL-IFU", "GZ3D"}
    for n in names:
        assert voc.lookup(n) == n


def test_the_json_copy_equals_the_yaml_vocabulary():
    """Queries read sfng/data/tracers.json (no PyYAML import); it must be the YAML's content.
    If this fails, run `python -m sfng.docs_gen docs`."""
    import json
    from pathlib import Path

    import sfng
    from sfng import tracers

    shipped = (Path(sfng.__file__).parent / "data" / "tracers.json").read_text(encoding="utf-8")
    assert shipped == tracers.compiled_json()
    assert json.loads(shipped) == tracers._yaml_entries()
    assert dict(tracers._builtin()) == tracers._yaml_entries()

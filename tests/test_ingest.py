"""Ingest: plan, land under NED names, manifest, idempotent reruns, conflicts and bad input.

NED is replaced by a small fake resolver injected into ``plan_ingest``; no test needs sfng.ned.
"""

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng import ingest as ing
from sfng import manifest as mf
from sfng.errors import SfngError
from sfng.fsutil import TMP_PREFIX, sha256_file


class NotFound(SfngError):
    """Named like sfng.ned.NotFound, which ingest recognises by name."""


class Unavailable(SfngError):
    pass


class FakeResolver:
    """Answers like sfng.ned.Resolver for a handful of galaxies."""

    KNOWN = {
        "NGC4826": ("MESSIER 064", 194.1825, 21.683056),
        "M64": ("MESSIER 064", 194.1825, 21.683056),
        "NGC628": ("MESSIER 074", 24.173946, 15.783662),
        "M74": ("MESSIER 074", 24.173946, 15.783662),
        "NGC5194": ("MESSIER 051a", 202.469629, 47.195172),
        "M51": ("MESSIER 051a", 202.469629, 47.195172),
        "NGC5195": ("MESSIER 051b", 202.4982, 47.2656),
        "IC342": ("IC 0342", 56.702083, 68.096111),
        "HOSTILE": ("ESO 269- G?066/../x", 10.0, -40.0),
    }

    def __init__(self, down=False, position=None):
        self.down, self.position, self.asked = down, position, []

    @staticmethod
    def key(name):
        import re

        s = name.upper().replace(" ", "").replace("_", "")
        return re.sub(r"(?<=[A-Z])0+(?=\d)", "", s)

    def resolve(self, name):
        self.asked.append(name)
        if self.down:
            raise Unavailable(f"NED cannot be reached for {name!r}")
        hit = self.KNOWN.get(self.key(name))
        if hit is None:
            raise NotFound(f"NED has no object named {name!r}")
        return SimpleNamespace(input=name, ned_name=hit[0], ra=hit[1], dec=hit[2], source="cache")

    def by_position(self, ra, dec, radius_arcsec=30.0):
        if self.position is None:
            return None
        return SimpleNamespace(input="pos", ned_name=self.position, ra=ra, dec=dec, source="ned-position")


def write_fits(path, obj=None, bunit="K", shape=(8, 10, 12), value=1.0, ra=56.702083, dec=68.096111,
               extra=None):
    """A small cube with a real celestial WCS and a velocity axis."""
    from astropy.io import fits

    data = np.full(shape, value, dtype=np.float32)
    h = fits.Header()
    h["BUNIT"] = bunit
    h["CTYPE1"], h["CRVAL1"], h["CDELT1"], h["CRPIX1"], h["CUNIT1"] = "RA---SIN", ra, -2e-3, shape[-1] / 2, "deg"
    h["CTYPE2"], h["CRVAL2"], h["CDELT2"], h["CRPIX2"], h["CUNIT2"] = "DEC--SIN", dec, 2e-3, shape[-2] / 2, "deg"
    if len(shape) == 3:
        h["CTYPE3"], h["CRVAL3"], h["CDELT3"], h["CRPIX3"], h["CUNIT3"] = "VRAD", 3.1e4, 5.2e3, 1.0, "m/s"
        h["RESTFRQ"] = 1.15271202e11
    h["BMAJ"], h["BMIN"], h["BPA"] = 4.2e-3, 4.2e-3, 0.0
    if obj is not None:
        h["OBJECT"] = obj
    for k, v in (extra or {}).items():
        h[k] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data, header=h).writeto(path)
    return path


@pytest.fixture
def survey(tmp_path):
    """A THINGS-like survey folder as published."""
    src = tmp_path / "THINGS"
    write_fits(src / "NGC_4826_NA_CUBE_THINGS.FITS", obj="NGC4826", value=1.0)
    write_fits(src / "NGC_628_NA_CUBE_THINGS.FITS", value=2.0)  # no OBJECT: file name
    write_fits(src / "NGC5194_5195_co10.fits", value=3.0)       # a pair, from the file name
    (src / "THINGS_README.txt").write_text("BUNIT = JY/BEAM\n---\nTHINGS: VLA HI cubes.\n")
    (src / "walter2008.pdf").write_bytes(b"%PDF-1.4 fake\n")
    (src / "make_cubes.sh").write_text("#!/bin/sh\n")
    (src / ".DS_Store").write_bytes(b"\0\0")
    return src


def files_in(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).is_dir() else []


def no_temporaries(root):
    return [str(p) for p in Path(root).rglob(TMP_PREFIX + "*")]


def test_plan_names_and_lands_everything(store, survey):
    res = FakeResolver()
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=res, validate=False)
    by_rel = {i.rel: i for i in plan.items if i.rel}
    cube = by_rel["NGC_4826_NA_CUBE_THINGS.FITS"]
    assert cube.dest == "data/THINGS/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"
    assert cube.galaxy == "MESSIER 064" and "OBJECT keyword" in cube.how
    assert by_rel["NGC_628_NA_CUBE_THINGS.FITS"].how.startswith("file name")
    pair = by_rel["NGC5194_5195_co10.fits"]
    assert pair.galaxy == "MESSIER 051a" and pair.companions == ["MESSIER 051b"]
    assert pair.dest == "data/THINGS/MESSIER_051a.NGC5194_5195_co10.fits"
    assert by_rel["walter2008.pdf"].dest == "docs/THINGS/walter2008.pdf"
    assert by_rel["make_cubes.sh"].action == "ignore" and by_rel["make_cubes.sh"].notes
    assert by_rel[".DS_Store"].action == "ignore"
    assert plan.ok
    assert files_in(store.root / "data") == ["README.md"]  # planning writes nothing

    report = ing.execute(plan)
    assert report.ok, report.as_dict()
    things = store.root / "data" / "THINGS"
    assert files_in(things) == sorted([
        "MANIFEST.sha256", "THINGS_README.txt", "MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS",
        "MESSIER_074.NGC_628_NA_CUBE_THINGS.FITS", "MESSIER_051a.NGC5194_5195_co10.fits"])
    assert (things / "THINGS_README.txt").read_text() == (survey / "THINGS_README.txt").read_text()
    entries = mf.read_manifest(things)
    assert set(entries) == {"MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS",
                            "MESSIER_074.NGC_628_NA_CUBE_THINGS.FITS", "MESSIER_051a.NGC5194_5195_co10.fits"}
    e = entries["MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"]
    assert e.sha256 == sha256_file(survey / "NGC_4826_NA_CUBE_THINGS.FITS")
    assert e.size == (survey / "NGC_4826_NA_CUBE_THINGS.FITS").stat().st_size
    assert entries["MESSIER_051a.NGC5194_5195_co10.fits"].companions == ("MESSIER 051b",)
    assert (store.root / "docs" / "THINGS" / "walter2008.pdf").read_bytes() == b"%PDF-1.4 fake\n"
    assert (survey / "make_cubes.sh").exists()  # copy mode leaves sources
    assert no_temporaries(store.root) == []
    assert not list((store.root / ".sfng" / "journal").iterdir())  # journal closed
    mode = (things / "MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS").stat().st_mode & 0o777
    assert mode & 0o044, "landed files are readable by the group/others, not 0600"
    assert "3 data file(s) landed" in report.summary()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs GNU sha256sum")
def test_manifest_checks_with_sha256sum(store, survey):
    ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False))
    for folder in ("data/THINGS", "docs/THINGS"):
        r = subprocess.run(["sha256sum", "-c", "--strict", "MANIFEST.sha256"], cwd=store.root / folder,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count(": OK") == len(mf.read_manifest(store.root / folder))


def test_rerun_is_idempotent(store, survey):
    ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False))
    before = (store.root / "data" / "THINGS" / "MANIFEST.sha256").read_text()
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    assert {i.action for i in plan.items if i.kind == "data"} == {"skip"}
    report = ing.execute(plan)
    assert report.ok and report.bytes_landed == 0
    assert (store.root / "data" / "THINGS" / "MANIFEST.sha256").read_text() == before


def test_conflict_never_overwrites(store, survey):
    ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False))
    stored = store.root / "data/THINGS/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"
    original = stored.read_bytes()
    (survey / "NGC_4826_NA_CUBE_THINGS.FITS").unlink()
    write_fits(survey / "NGC_4826_NA_CUBE_THINGS.FITS", obj="NGC4826", value=9.0)  # same size, other bytes
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    item = next(i for i in plan.items if i.rel == "NGC_4826_NA_CUBE_THINGS.FITS")
    assert item.action == "conflict" and "never overwrites" in item.problems[0]
    report = ing.execute(plan)
    assert not report.ok
    assert stored.read_bytes() == original
    assert report.counts()["conflict"] == 1


def test_readme_kept_when_different_and_template_when_missing(store, survey, tmp_path):
    ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False))
    (survey / "THINGS_README.txt").write_text("BUNIT = K\n---\nedited\n")
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    readme = next(i for i in plan.items if i.kind == "readme")
    assert readme.action == "keep" and "differs" in readme.notes[0] and plan.ok
    bare = tmp_path / "BARE"
    write_fits(bare / "IC342.co.fits")
    report = ing.execute(ing.plan_ingest(store, bare, ned_rename=True, resolver=FakeResolver(), validate=False))
    assert report.ok
    text = (store.root / "data" / "BARE" / "BARE_README.txt").read_text()
    assert "---" in text and "BARE" in text
    assert "IC_0342.IC342.co.fits" in files_in(store.root / "data" / "BARE")


def test_without_ned_rename_names_are_kept(store, survey):
    res = FakeResolver()
    plan = ing.plan_ingest(store, survey, ned_rename=False, resolver=res, validate=False)
    assert res.asked == []
    assert "data/THINGS/NGC_628_NA_CUBE_THINGS.FITS" in {i.dest for i in plan.items}


def test_already_named_file_keeps_its_name(store, tmp_path):
    src = tmp_path / "RE"
    write_fits(src / "MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS", obj="NGC 4826")
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    item = next(i for i in plan.items if i.kind == "data")
    assert item.dest == "data/RE/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"


def test_two_sources_one_target(store, tmp_path):
    src = tmp_path / "DUP"
    write_fits(src / "ngc628.co.fits", value=1.0)
    write_fits(src / "night2" / "ngc628.co.fits", value=2.0)
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    data = [i for i in plan.items if i.kind == "data"]
    assert [i.action for i in data] == ["conflict", "conflict"]
    assert "night2/ngc628.co.fits" in data[0].problems[0]
    report = ing.execute(plan)
    assert not report.ok and not (store.root / "data" / "DUP" / "MESSIER_074.ngc628.co.fits").exists()


def test_hostile_names_stay_in_their_folder(store, tmp_path):
    src = tmp_path / "EVIL"
    write_fits(src / "cube.fits", obj="hostile")                 # NED name holds '/', '..' and '?'
    write_fits(src / "-rf.fits", obj="NGC 628")                  # leading '-'
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    by = {i.rel: i for i in plan.items if i.kind == "data"}
    dest = by["cube.fits"].dest
    assert dest.startswith("data/EVIL/") and dest.count("/") == 2 and ".." not in dest.split("/")
    assert by["-rf.fits"].action == "error" and "unsafe" in by["-rf.fits"].problems[0]
    report = ing.execute(plan)
    assert not report.ok
    landed = store.root / dest
    assert landed.is_file() and landed.parent == store.root / "data" / "EVIL"
    from sfng import naming
    assert naming.parse(landed.name)[0] == "ESO 269- G?066/../x"
    for bad in ("..", "a/b", "-x", ""):
        with pytest.raises(SfngError):
            ing.plan_ingest(store, src, survey=bad or ".", validate=False)


def test_ned_unreachable_lands_nothing_and_says_so(store, survey):
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(down=True), validate=False)
    data = [i for i in plan.items if i.kind == "data"]
    assert all(i.action == "error" for i in data)
    assert "NED unavailable" in data[0].problems[0]
    report = ing.execute(plan)
    assert not report.ok
    assert [n for n in files_in(store.root / "data" / "THINGS") if n.endswith((".FITS", ".fits"))] == []


def test_unknown_object_falls_back_to_file_name_but_never_guesses(store, tmp_path):
    src = tmp_path / "S"
    write_fits(src / "NGC628_x.fits", obj="Field 3")  # OBJECT unknown to NED, file name known
    write_fits(src / "mystery.fits")                   # nothing to go on
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    by = {i.rel: i for i in plan.items if i.kind == "data"}
    assert by["NGC628_x.fits"].galaxy == "MESSIER 074"
    assert any("unknown to NED" in n for n in by["NGC628_x.fits"].notes)
    assert by["mystery.fits"].action == "error" and "--by-position" in by["mystery.fits"].problems[0]


def test_object_and_file_name_disagree_is_an_error(store, tmp_path):
    src = tmp_path / "S"
    write_fits(src / "NGC628_x.fits", obj="IC 342")
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    item = next(i for i in plan.items if i.kind == "data")
    assert item.action == "error" and "does not guess" in item.problems[0]


def test_by_position(store, tmp_path):
    src = tmp_path / "S"
    write_fits(src / "mystery.fits")
    plan = ing.plan_ingest(store, src, ned_rename=True, by_position=True,
                           resolver=FakeResolver(position="IC 0342"), validate=False)
    item = next(i for i in plan.items if i.kind == "data")
    assert item.galaxy == "IC 0342" and "image centre" in item.how and "RA 56.69" in item.how
    plan = ing.plan_ingest(store, src, ned_rename=True, by_position=True, resolver=FakeResolver(),
                           validate=False)
    assert next(i for i in plan.items if i.kind == "data").action == "error"


def test_source_inside_the_store_is_refused(store, survey):
    inside = store.root / "data" / "THINGS_incoming"
    shutil.copytree(survey, inside)
    with pytest.raises(SfngError, match="inside the store"):
        ing.plan_ingest(store, inside, validate=False)
    outside = survey.parent / "S2"
    outside.mkdir()
    (outside / "ngc628.fits").symlink_to(inside / "NGC_628_NA_CUBE_THINGS.FITS")
    plan = ing.plan_ingest(store, outside, validate=False)
    assert next(i for i in plan.items if i.rel == "ngc628.fits").action == "error"


def test_unreadable_source_is_reported(store, tmp_path):
    src = tmp_path / "S"
    write_fits(src / "ngc628.fits")
    (src / "ic342.fits").symlink_to(tmp_path / "gone.fits")  # dangling
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    bad = next(i for i in plan.items if i.rel == "ic342.fits")
    assert bad.action == "error" and "cannot read" in bad.problems[0]
    report = ing.execute(plan)
    assert not report.ok and (store.root / "data/S/MESSIER_074.ngc628.fits").is_file()


class _FullDisk:
    """Stands in for the ``os`` module inside sfng.fsutil: writes fail with ENOSPC after a while."""

    def __init__(self, after):
        self.after = after

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, mode="r", *args, **kwargs):
        f = os.fdopen(fd, mode, *args, **kwargs)
        budget = [self.after]
        real_write = f.write

        class Wrapped:
            def __getattr__(self, n):
                return getattr(f, n)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                if len(data) > budget[0]:
                    real_write(data[: budget[0]])
                    budget[0] = 0
                    raise OSError(errno.ENOSPC, "No space left on device")
                budget[0] -= len(data)
                return real_write(data)

        return Wrapped()


def test_full_disk_leaves_nothing_half_written(store, survey, monkeypatch):
    from sfng import fsutil

    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    monkeypatch.setattr(fsutil, "os", _FullDisk(after=1000))
    report = ing.execute(plan)
    monkeypatch.undo()
    assert not report.ok
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert failed and all("no space left" in o.message for o in failed)
    things = store.root / "data" / "THINGS"
    assert [n for n in files_in(things) if n.endswith((".fits", ".FITS"))] == []
    assert no_temporaries(store.root) == []
    assert mf.read_manifest(things) == {}
    # With room again, a rerun lands everything.
    report = ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(),
                                         validate=False))
    assert report.ok and len(mf.read_manifest(things)) == 3


def test_move_removes_sources_only_after_verification(store, survey, monkeypatch):
    sums = {p.name: sha256_file(p) for p in survey.glob("*.fits")}
    sums.update({p.name: sha256_file(p) for p in survey.glob("*.FITS")})

    def broken_land(src, dst, mode, expected, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    monkeypatch.setattr(ing.landing, "_land", broken_land)
    assert not ing.execute(plan, mode="move").ok
    monkeypatch.undo()
    assert all((survey / n).exists() for n in sums)  # nothing verified, nothing removed
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    report = ing.execute(plan, mode="move")
    assert report.ok
    assert not any((survey / n).exists() for n in sums)
    stored = {p.name.split(".", 1)[1]: sha256_file(p) for p in (store.root / "data/THINGS").iterdir()
              if p.suffix.lower() == ".fits"}
    assert {k: v for k, v in stored.items() if k in sums} == sums
    assert (survey / "make_cubes.sh").exists()  # ignored files stay


def test_link_mode_makes_hard_links(store, survey):
    report = ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(),
                                         validate=False), mode="link")
    assert report.ok
    landed = store.root / "data/THINGS/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"
    assert landed.stat().st_ino == (survey / "NGC_4826_NA_CUBE_THINGS.FITS").stat().st_ino
    assert any(o.how == "hard link" for o in report.outcomes)


def test_jobs_give_the_same_result(store, tmp_path):
    src = tmp_path / "MANY"
    for i in range(12):
        write_fits(src / f"ngc628_field{i:02d}.fits", value=float(i))
    report = ing.execute(ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(),
                                         validate=False), jobs=4)
    assert report.ok
    entries = mf.read_manifest(store.root / "data" / "MANY")
    assert len(entries) == 12
    assert all(sha256_file(store.root / "data" / "MANY" / n) == e.sha256 for n, e in entries.items())


def test_validation_hook_sends_failures_to_uncalibrated(store, survey, monkeypatch):
    def fake_validate_file(path, store=None, *, readme_metadata=None, tree=None, hdu=None):
        bad = "5194" in Path(path).name
        return SimpleNamespace(errors=["wcs-singular: the WCS matrix is singular"] if bad else [],
                               as_dict=lambda: {"path": str(path), "ok": not bad})

    monkeypatch.setattr(ing.validation, "_validator", lambda: fake_validate_file)
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver())
    assert plan.validation == "on" and plan.counts()["to_uncalibrated"] == 1
    report = ing.execute(plan)
    assert report.ok
    q = store.root / "uncalibrated" / "THINGS"
    assert "MESSIER_051a.NGC5194_5195_co10.fits" in files_in(q)
    assert "THINGS_README.txt" in files_in(q)
    rep = json.loads((q / "MESSIER_051a.NGC5194_5195_co10.fits.validation.json").read_text())
    assert rep["ok"] is False
    assert "MESSIER_051a.NGC5194_5195_co10.fits" in mf.read_manifest(q)
    assert not (store.root / "data/THINGS/MESSIER_051a.NGC5194_5195_co10.fits").exists()
    # --force lands it in data/ (reported).
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), force=True)
    item = next(i for i in plan.items if "5194" in i.rel)
    assert item.dest == "data/THINGS/MESSIER_051a.NGC5194_5195_co10.fits"
    assert any("--force" in n for n in item.notes)


def test_recovery_finishes_an_interrupted_move(store, survey):
    """A journal left by a killed move: landed but not in the manifest, source not yet removed."""
    from sfng.journal import Journal

    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    item = next(i for i in plan.items if i.rel == "NGC_4826_NA_CUBE_THINGS.FITS")
    dst = store.root / item.dest
    dst.parent.mkdir(parents=True)
    shutil.copyfile(item.source, dst)
    (dst.parent / (TMP_PREFIX + "half")).write_bytes(b"partial")
    _lock, jpath = ing.landing._lock_and_journal_paths(store, "THINGS")
    j = Journal(jpath).open(src=str(survey), mode="move", folders=["data/THINGS"])
    j.record("land", src=item.source, dst=item.dest, mode="move", companions=[])
    j.record("landed", dst=item.dest, sha256=sha256_file(dst), size=dst.stat().st_size)
    j.close(remove=False)
    report = ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(),
                                         validate=False), mode="move")
    text = "\n".join(report.recovered)
    assert "temporary" in text and "recorded in the manifest" in text and "removed the verified source" in text
    assert report.ok and no_temporaries(store.root) == [] and not jpath.exists()
    assert dst.name in mf.read_manifest(dst.parent)


def test_cli_plan_shows_control_characters_escaped(cli, store, survey, monkeypatch):
    # A newline in a published file name must not start a fake line of the plan.
    (survey / "NGC_628_NA_CUBE_THINGS.FITS").rename(survey / "NGC_628\nCONFLICT x.fits")
    monkeypatch.chdir(store.root)
    r = cli("ingest", survey, "--dry-run", "--force", "--offline", "--ned-rename")
    assert "NGC_628\\nCONFLICT x.fits" in r.output
    assert not any(line.startswith("CONFLICT") for line in r.output.splitlines())


def test_cli_dry_run_json_and_exit_codes(cli, store, survey, monkeypatch):
    monkeypatch.chdir(store.root)
    r = cli("ingest", survey, "--dry-run", "--format", "json", "--force")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["survey"] == "THINGS" and plan["ok"] is True
    assert {i["action"] for i in plan["items"]} >= {"land", "ignore"}
    assert files_in(store.root / "data") == ["README.md"]
    r = cli("ingest", survey, "--force")
    assert r.exit_code == 0 and "landed" in r.output
    (survey / "ngc628.fits").symlink_to(survey / "missing.fits")
    r = cli("ingest", survey, "--force", "--format", "json")
    assert r.exit_code == 1
    out = json.loads(r.output)
    assert out["ok"] is False and out["counts"]["failed"] == 1
    assert "--move" in cli("ingest", "--help").output


# ---------------------------------------------------------------------------------------------
# The manifest format
# ---------------------------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
                min_size=1, max_size=40).filter(lambda s: s not in (".", "..") and not s.startswith("#"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, st.integers(0, 2**40), st.lists(st.text(min_size=1, max_size=12),
                                                                     max_size=2)),
                min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_manifest_round_trip(rows):
    entries = {n: mf.Entry(n, f"{abs(hash(n)) % 16**64:064x}", size, "2026-11-23T00:00:00Z", tuple(c))
               for n, size, c in rows}
    text = mf.HEADER + "".join(mf.format_entry(e) for e in entries.values())
    parsed, problems = mf.parse(text)
    assert problems == [] and parsed == entries


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs GNU sha256sum")
def test_manifest_escapes_like_sha256sum(tmp_path):
    odd = "a\\b\nc.fits"
    (tmp_path / odd).write_bytes(b"x")
    mf.append(tmp_path, [mf.Entry(odd, sha256_file(tmp_path / odd), 1, None)])
    r = subprocess.run(["sha256sum", "-c", "--strict", mf.MANIFEST_NAME], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(mf.read_manifest(tmp_path)) == [odd]
    mine = subprocess.run(["sha256sum", odd], cwd=tmp_path, capture_output=True, text=True).stdout
    assert mine.splitlines()[0] in (tmp_path / mf.MANIFEST_NAME).read_text()


def test_store_inside_the_source_is_not_entered(tmp_path):
    from sfng.store import Store, init_store

    src = tmp_path / "SURVEY"
    write_fits(src / "ngc628.fits")
    init_store(src / "store")
    store = Store.open(src / "store")
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    assert [i.rel for i in plan.items if i.action == "ignore"] == ["store"]
    assert {i.dest for i in plan.items if i.kind == "data"} == {"data/SURVEY/MESSIER_074.ngc628.fits"}
    assert ing.execute(plan).ok


def test_readme_option_and_derived_tree(store, survey, tmp_path):
    other = tmp_path / "mine_README.txt"
    other.write_text("BUNIT = K km/s\n---\nMoment-0 maps.\n")
    plan = ing.plan_ingest(store, survey, survey="THINGS", tree="derived", readme=other,
                           ned_rename=True, resolver=FakeResolver(), validate=False)
    report = ing.execute(plan)
    assert report.ok
    assert (store.root / "derived/THINGS/THINGS_README.txt").read_text() == other.read_text()
    assert (store.root / "derived/THINGS/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS").is_file()
    # the folder's own README was not chosen: it is a companion document
    assert (store.root / "docs/THINGS/THINGS_README.txt").is_file()
    with pytest.raises(SfngError, match="cannot ingest into"):
        ing.plan_ingest(store, survey, tree="release")


def test_ned_down_is_asked_once_per_run_not_once_per_file(store, tmp_path):
    """With sfng.ned's resolver: one batch, so an unreachable NED costs one retry cycle."""
    ned = pytest.importorskip("sfng.ned")
    calls = []

    def down(url, params, timeout):
        calls.append(params)
        raise ConnectionError("network is unreachable")

    src = tmp_path / "S"
    for n in ("NGC 628", "NGC 3184", "NGC 3521", "NGC 5055", "NGC 6946"):
        write_fits(src / f"{n.replace(' ', '')}.co.fits", obj=n)
    resolver = ned.Resolver(store=store, transport=down, retries=2, sleep=lambda s: None, env={})
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=resolver, validate=False)
    data = [i for i in plan.items if i.kind == "data"]
    assert len(data) == 5 and all(i.action == "error" for i in data)
    assert all("NED unavailable" in i.problems[0] for i in data)
    assert len(calls) == 3  # the first name's attempts; the others are not sent


def test_unreadable_header_is_noted_and_the_file_name_still_names_it(store, tmp_path):
    src = tmp_path / "S"
    src.mkdir()
    (src / "ngc628_broken.fits").write_bytes(b"SIMPLE  =                    T" + b"\x00" * 100)
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), validate=False)
    item = next(i for i in plan.items if i.kind == "data")
    assert item.galaxy == "MESSIER 074" and item.how.startswith("file name")
    assert any("unreadable" in n for n in item.notes)


def test_manifest_torn_tail_is_ignored_and_next_append_starts_a_new_line(tmp_path):
    (tmp_path / "a.fits").write_bytes(b"a")
    (tmp_path / "b.fits").write_bytes(b"b")
    mf.append(tmp_path, [mf.Entry("a.fits", sha256_file(tmp_path / "a.fits"), 1, None)])
    with open(tmp_path / mf.MANIFEST_NAME, "a") as f:
        f.write("#sfng {\"size\": 1}\n" + "0" * 64 + "  b.fi")  # power cut mid-line
    entries, problems = mf.parse((tmp_path / mf.MANIFEST_NAME).read_text())
    assert list(entries) == ["a.fits"] and "incomplete" in problems[0]
    mf.append(tmp_path, [mf.Entry("b.fits", sha256_file(tmp_path / "b.fits"), 1, None)])
    assert sorted(mf.read_manifest(tmp_path)) == ["a.fits", "b.fits"]
    assert mf.verify(tmp_path) == []


def test_image_centre_with_the_celestial_axes_anywhere():
    from astropy.io import fits

    h = fits.Header()
    h["NAXIS"], h["NAXIS1"], h["NAXIS2"], h["NAXIS3"] = 3, 5, 11, 21
    h["CTYPE1"], h["CRVAL1"], h["CDELT1"], h["CRPIX1"] = "FREQ", 1.4e9, 1e5, 1
    h["CTYPE2"], h["CRVAL2"], h["CDELT2"], h["CRPIX2"] = "DEC--TAN", 30.0, 1e-3, 6   # centre pixel
    h["CTYPE3"], h["CRVAL3"], h["CDELT3"], h["CRPIX3"] = "RA---TAN", 150.0, -1e-3, 11  # centre pixel
    ra, dec = ing.sources._centre(h)
    assert ra == pytest.approx(150.0, abs=1e-9) and dec == pytest.approx(30.0, abs=1e-9)
    ra, dec = ing.sources._centre(h.tostring())  # card text, as sfng.fitsheader hands it over
    assert ra == pytest.approx(150.0, abs=1e-9)
    h["CTYPE3"] = "VELO-LSR"
    assert ing.sources._centre(h) is None  # no celestial pair: no position, never a guess


def test_validation_sees_the_readme_that_will_govern_the_file(store, tmp_path, monkeypatch):
    """A file without BUNIT passes when the README that will apply in the store supplies it."""
    from astropy.io import fits

    seen = []

    def fake_validate_file(path, store=None, deep=False, *, readme_metadata=None, tree=None, hdu=None):
        seen.append((readme_metadata, tree))
        ok = "BUNIT" in fits.getheader(path) or "BUNIT" in (readme_metadata or {})
        return SimpleNamespace(errors=[] if ok else ["bunit-missing"], as_dict=lambda: {"ok": ok})

    monkeypatch.setattr(ing.validation, "_validator", lambda: fake_validate_file)
    src = tmp_path / "HERA"
    write_fits(src / "ngc628_co21.fits")
    with fits.open(src / "ngc628_co21.fits", mode="update") as h:
        del h[0].header["BUNIT"]
    (src / "notes_README.txt").write_text("BUNIT = K\n---\nunits only here\n")
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), tree="derived")
    item = next(i for i in plan.items if i.kind == "data")
    assert item.dest.startswith("derived/HERA/") and seen[-1] == ({"BUNIT": "K"}, "derived")
    # The store's README, once there, is the one that governs (it is kept).
    store_readme = store.readme_path("HERA", "derived")
    store_readme.parent.mkdir(parents=True)
    store_readme.write_text("MAPTYPE = CO(2-1)\n---\nno units\n")
    plan = ing.plan_ingest(store, src, ned_rename=True, resolver=FakeResolver(), tree="derived")
    item = next(i for i in plan.items if i.kind == "data")
    assert item.dest.startswith("uncalibrated/HERA/") and seen[-1][0] == {"MAPTYPE": "CO(2-1)"}


def test_move_that_cannot_remove_its_source_says_so(store, survey, monkeypatch):
    plan = ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(), validate=False)
    real_unlink = Path.unlink

    def refuse(self, *a, **k):
        if self.parent == survey:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", refuse)
    report = ing.execute(plan, mode="move")
    monkeypatch.undo()
    bad = [o for o in report.outcomes if o.status == "failed"]
    assert bad and all("landed and verified" in o.message for o in bad)
    assert all((store.root / o.item.dest).is_file() for o in bad)
    assert not report.ok
    # the rerun finishes the move
    report = ing.execute(ing.plan_ingest(store, survey, ned_rename=True, resolver=FakeResolver(),
                                         validate=False), mode="move")
    assert report.ok and not list(survey.glob("*.fits"))

"""`sfng index diff` compares whole columns with numpy (sfng.index.diff); it must say exactly what
a plain row-by-row comparison says, on indexes of every shape: versioned and unversioned survey
folders, superseded rows, locators, NaNs, text of other widths, array columns stored narrower in
one file than in the other, companions in their own version's folder, duplicate keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sfng.index.diff import PLACE_COLUMNS, diff_indexes


def _write(path, rows):
    from sfng.index.io import IndexWriter, disk_dtype
    from sfng.index.schema import FILES_COLUMNS

    rec = np.zeros(len(rows), dtype=disk_dtype(FILES_COLUMNS))
    for name in rec.dtype.names:
        if rec.dtype[name].kind == "f":
            rec[name] = np.nan
    rec["current"] = ord("T")
    rec["valid"] = ord("T")
    for i, r in enumerate(rows):
        for k, v in r.items():
            if k in ("current", "valid"):
                rec[k][i] = ord("T") if v else ord("F")
            elif isinstance(v, str):
                rec[k][i] = v.encode()
            elif isinstance(v, list):
                rec[k][i, :len(v)] = v
                rec[k][i, len(v):] = np.nan
            else:
                rec[k][i] = v
    w = IndexWriter(path, {"store": "t", "sfng_version": "t", "built": "2026-01-01T00:00:00"})
    w.add_records(rec)
    w.finish([])
    return path


def _random_rows(rng, n, flip=0.0, base=None):
    """``n`` rows; with ``base``, a changed copy of it (values, removals, additions)."""
    if base is None:
        rows = []
        for i in range(n):
            survey = ["THINGS", "NRO45", "PAWS"][i % 3]
            version = ["", "v1", "v2"][rng.integers(0, 3)] if survey == "THINGS" else ""
            folder = f"{survey}@{version}" if version else survey
            name = f"sub/f{i:04d}.fits" if i % 7 == 0 else f"f{i:04d}.fits"
            k = int(rng.integers(3, 7))
            rows.append({"path": f"data/{folder}/{name}", "tree": "data", "survey": survey,
                         "version": version, "current": version != "v1",
                         "locator": "#ext" if i % 11 == 0 else "",
                         "galaxy": f"NGC {i % 40:04d}", "tracer": ["HI", "CO(1-0)", "HALPHA"][i % 3],
                         "res": float(rng.uniform(1, 30)) if i % 5 else math.nan,
                         "size": int(rng.integers(1, 1 << 40)),
                         "mtime": float(rng.uniform(1e9, 2e9)), "foot_n": k,
                         "foot_ra": rng.uniform(0, 360, k).tolist(), "foot_dec": rng.uniform(-90, 90, k).tolist(),
                         "noise_path": f"data/{folder}/n{i:04d}.fits" if i % 4 == 0 else "",
                         "extra": "vconv=radio" if i % 3 == 0 else ""})
        return rows
    rows = [dict(r) for r in base if rng.random() > 0.05]                     # removed
    for r in rows:
        u = rng.random()
        if u < flip:
            r["res"] = math.nan if rng.random() < 0.3 else float(rng.uniform(1, 30))
        elif u < 2 * flip:
            r["galaxy"] = r["galaxy"] + " (renamed)"                          # wider text
        elif u < 3 * flip:
            r["foot_n"] = 3
            r["foot_ra"], r["foot_dec"] = r["foot_ra"][:3], r["foot_dec"][:3]   # narrower array
        elif u < 4 * flip and r["survey"] == "THINGS" and r["version"] == "v1":
            r["path"] = r["path"].replace("THINGS@v1", "THINGS@v3")         # a new version
            r["noise_path"] = r["noise_path"].replace("THINGS@v1", "THINGS@v3")
            r["version"] = "v3"
        elif u < 5 * flip:
            r["mtime"] = r["mtime"] + 10.0                                    # place only: no change
    for j in range(int(rng.integers(1, 6))):                                  # added
        rows.append({**base[0], "path": f"data/PAWS/new{j}.fits", "survey": "PAWS", "version": "",
                     "current": True, "locator": ""})
    rows.append(dict(rows[-1]))                                               # a duplicate key
    return rows


def _reference(old_rows, new_rows, all_versions):
    """The comparison done the plain way: a dict per side, a loop over every value."""
    from sfng.index.diff import _plain, _split_path, _unversioned
    from sfng.index.io import read_index

    def rows(path):
        files, _, _ = read_index(path, galaxies=False)
        return [{c: _plain(r[c]) for c in files.colnames} for r in files], list(files.colnames)

    def key(r):
        tree, survey, version, name = _split_path(r["path"])
        version = r.get("version", version) or version
        return (tree, r.get("survey") or survey, name, r.get("locator", "")) + ((version,) if all_versions else ())

    def keyed(rs):
        return {key(r): r for r in rs if all_versions or r.get("current") is not False}

    def same(a, b):
        if isinstance(a, list) and isinstance(b, list):
            n = max(len(a), len(b))
            a, b = a + [None] * (n - len(a)), b + [None] * (n - len(b))   # a narrower layout
            return all(same(x, y) for x, y in zip(a, b))
        return a == b

    (ra, _), (rb, cols) = rows(old_rows), rows(new_rows)
    a, b = keyed(ra), keyed(rb)
    added = sorted(b.keys() - a.keys())
    removed = sorted(a.keys() - b.keys())
    changed = []
    for k in sorted(a.keys() & b.keys()):
        ch = {}
        for c in cols:
            if c in PLACE_COLUMNS:
                continue
            va, vb = a[k].get(c), b[k].get(c)
            if c == "noise_path":
                va, vb = _unversioned(va or ""), _unversioned(vb or "")
            if not same(va, vb):
                ch[c] = [a[k].get(c), b[k].get(c)]
        if ch:
            if a[k]["version"] != b[k]["version"]:
                ch = {"version": [a[k]["version"], b[k]["version"]], **ch}
            changed.append((k, a[k]["path"], b[k]["path"], ch))
    return added, removed, changed


def _strip_none_tail(v):
    if isinstance(v, list):
        while v and v[-1] is None:
            v = v[:-1]
    return v


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("all_versions", [False, True])
def test_numpy_diff_says_what_the_row_loop_says(tmp_path, seed, all_versions):
    rng = np.random.default_rng(seed)
    base = _random_rows(rng, 240)
    new = _random_rows(rng, 0, flip=0.06, base=base)
    old_p, new_p = _write(tmp_path / "old.fits", base), _write(tmp_path / "new.fits", new)
    got = diff_indexes(old_p, new_p, all_versions=all_versions)
    added, removed, changed = _reference(old_p, new_p, all_versions)
    ncol = 4 + all_versions
    assert [tuple([e["tree"], e["survey"], e["name"], e["locator"]] + ([e["version"]] if all_versions else []))
            for e in got.added] == [k[:ncol] for k in added]
    assert [(e["tree"], e["survey"], e["name"], e["locator"]) for e in got.removed] == [k[:4] for k in removed]
    assert len(got.changed) == len(changed) and len(changed) > 5
    for e, (k, op, np_, ch) in zip(got.changed, changed):
        assert (e["tree"], e["survey"], e["name"], e["locator"]) == k[:4]
        assert (e["old_path"], e["new_path"]) == (op, np_)
        assert list(e["changes"]) == list(ch)
        for c in ch:
            assert [_strip_none_tail(v) for v in e["changes"][c]] == [_strip_none_tail(v) for v in ch[c]], c
    # a place-only change (mtime) is no change; an index against itself has none
    assert diff_indexes(old_p, old_p).same


def test_a_narrower_layout_is_no_change(tmp_path):
    """One file's footprints hold at most 4 corners, the other's 6: the same 4-corner footprint
    reads [a, b, c, d] from one and [a, b, c, d, NaN, NaN] from the other, and is no change."""
    row = {"path": "data/S/a.fits", "tree": "data", "survey": "S", "foot_n": 4,
           "foot_ra": [1.0, 2.0, 3.0, 4.0], "foot_dec": [5.0, 6.0, 7.0, 8.0], "galaxy": "NGC 0001"}
    wide = {**row, "path": "data/S/b.fits", "foot_n": 6, "foot_ra": [1.0] * 6, "foot_dec": [2.0] * 6}
    old = _write(tmp_path / "old.fits", [row])
    new = _write(tmp_path / "new.fits", [row, wide])
    from sfng.index.io import read_index

    assert np.asarray(read_index(old, galaxies=False)[0]["foot_ra"]).shape[1] < \
        np.asarray(read_index(new, galaxies=False)[0]["foot_ra"]).shape[1]         # really narrower
    got = diff_indexes(old, new)
    assert [e["name"] for e in got.added] == ["b.fits"] and not got.changed and not got.removed
    moved = _write(tmp_path / "moved.fits", [{**row, "foot_ra": [1.0, 2.0, 3.0, 4.5]}, wide])
    [c] = diff_indexes(old, moved).changed
    assert list(c["changes"]) == ["foot_ra"]

"""Applying a :class:`~sfng.select.Selection` to an :class:`~sfng.query.index.Index`.

:func:`select` tests the cheap columns on the whole table first, then the galaxy-dependent ones
(names, distance, regions, ``--where``) on the survivors; :func:`galaxy_set` answers --has/--lacks;
:func:`covering_rows` finds the files whose footprint contains a point; :func:`find` is
``sfng find`` as a function.  Unknown values never pass a numeric test.
"""

from __future__ import annotations

import numpy as np

from ..errors import SfngError
from ..select import QUANTITIES, Range, Selection
from .index import Index, load_index
from .result import Result
from .values import strip_text


def select(index: Index, selection: Selection) -> Result:
    """Apply ``selection`` to ``index``; returns the matching rows (a :class:`Result`).

    Unknown values never pass a numeric test (a file whose depth is unknown is not "deeper
    than 1 K"); how many rows that left out is said in ``Result.notes``.
    """
    sel = selection
    n = len(index)
    notes: list[str] = list(index.meta.get("notes", ()))   # e.g. an older schema read
    mask = np.ones(n, dtype=bool)
    dv = sel.depth_chan_kms if sel.depth_chan else 1.0

    # Cheap column tests first, on the whole table (memory-mapped: a few ms per column).
    if sel.tracers:
        canon = [index.canonical_tracer(t) for t in sel.tracers]
        mask &= index.match_text("tracer", canon, fold=False)   # the index holds canonical names
    # Rows whose value is unknown stay in until the end, so that the note counts only those
    # the other options would have kept (not every unknown row of the index).
    unknown: dict = {}
    for q, col in (("res", "res"), ("chan", "chan_kms"), ("date", "mjd_obs")):
        r = getattr(sel, q)
        if r is not None:
            _range_filter(mask, index.raw(col), r, q, notes, unknown)
    if sel.depth is not None:
        _range_filter(mask, index.depth(None, dv), sel.depth, "depth", notes, unknown)
    for opt, col in (("surveys", "survey"), ("trees", "tree"), ("types", "product"),
                     ("bunits", "bunit")):
        vals = getattr(sel, opt)
        if vals:
            mask &= index.match_text(col, vals)
    if sel.valid is not None:
        v = np.asarray(index.raw("valid"), dtype=bool)
        mask &= v if sel.valid else ~v
    mask &= _version_mask(index, sel, notes)

    rows = np.flatnonzero(mask)
    narrowed = len(rows) < n or any((sel.galaxies, sel.dist, sel.res_pc, sel.near, sel.cone,
                                     sel.polygon, sel.where, unknown))

    # Galaxy-dependent tests on the survivors.
    if sel.galaxies:
        names = []
        for g in sel.galaxies:
            canon = index.resolve_galaxy(g)
            if canon is None:
                near = index.galaxy_suggestions(g)
                notes.append(f"no galaxy {g!r} in the index" +
                             (f" (did you mean {' or '.join(near)}?)" if near else ""))
            else:
                names.append(canon)
        rows = rows[index.match_text("galaxy", names, rows, fold=False)] if names else rows[:0]
        if names and not len(rows):
            # The hint is for galaxies no file is named for, not for ones whose files the
            # other options left out.
            unnamed = [g for g in names if not index.match_text("galaxy", [g], fold=False).any()]
            notes.extend(_covering_hint(index, unnamed))
    for q in ("dist", "res_pc"):
        r = getattr(sel, q)
        if r is not None and len(rows):
            keep = np.ones(len(rows), dtype=bool)
            _range_filter(keep, index.values(q, rows)[0], r, q, notes)
            rows = rows[keep]
    if (sel.near or sel.cone or sel.polygon) and len(rows):
        rows = rows[_region_mask(index, rows, sel, notes)]
    if sel.moc and len(rows):
        from .moc import moc_mask, read_moc

        rows = rows[moc_mask(index, rows, read_moc(sel.moc))]
    if sel.where and len(rows):
        expr = sel.where_expr()
        expr.check(index.where_columns())
        keep = expr.evaluate(lambda name: index.values(name, rows, dv), index.canonical_text)
        rows = rows[np.asarray(keep, dtype=bool)]
    for q, (unk, text) in unknown.items():
        left_out = unk[rows]
        if left_out.any():
            notes.append(_unknown_note(int(np.count_nonzero(left_out)), q, text))
            rows = rows[~left_out]

    galaxies = None
    if sel.is_galaxy_set:
        galaxies = galaxy_set(index, sel)
        if not galaxies:
            rows = rows[:0]
        elif narrowed:
            rows = rows[index.match_text("galaxy", galaxies, rows, fold=False)]
            present = {strip_text(g) for g in set(np.asarray(index.raw("galaxy", rows)).tolist())}
            galaxies = [g for g in galaxies if g in present]
        else:
            # Every galaxy of the set has files (it was found through them): their rows are
            # looked up only if asked for.
            every = rows
            rows = lambda: every[index.match_text("galaxy", galaxies, every, fold=False)]  # noqa: E731
    return Result(index, rows, sel, galaxies, notes)


def _version_mask(index: Index, sel: Selection, notes: list):
    """Data versions (docs/versions.md): the current ones unless ``--all-versions``, or exactly
    those of ``--version``.  An index without the columns (an older schema) has no versions."""
    if sel.all_versions:
        return True
    if "version" not in index.columns or "current" not in index.columns:
        if sel.versions and any(sel.versions):
            notes.append("this index has no data versions (an older schema): --version ignored")
        return True
    if sel.versions:
        want = [v for v in sel.versions if v]
        m = index.match_text("version", want, fold=False) if want else np.zeros(len(index), bool)
        if "" in sel.versions:
            m = m | (np.asarray(index.text("version")) == "")
        return m
    return np.asarray(index.raw("current"), dtype=bool)


def covering_rows(index: Index, ra: float, dec: float) -> np.ndarray:
    """FILES rows whose footprint contains the point (ra, dec) in degrees."""
    from .. import footprint

    if not len(index):
        return np.zeros(0, dtype=int)
    half = index.numbers("fov") / 120.0
    near = footprint.cap_prefilter(index.numbers("ra"), index.numbers("dec"), half, ra, dec, 0.0)
    cand = np.flatnonzero(near)
    if not len(cand):
        return cand
    inside = footprint.contains_point_many(np.asarray(index.raw("foot_ra", cand), dtype=float),
                                           np.asarray(index.raw("foot_dec", cand), dtype=float),
                                           np.asarray(index.raw("foot_n", cand), dtype=int), ra, dec)
    wide = wide_rows(index, cand)
    if wide.any():  # no polygon: the footprint's bounding circle (the whole sky for an all-sky map)
        w = cand[wide]
        inside[wide] = footprint.caps_contain_point(index.numbers("ra", w), index.numbers("dec", w),
                                                    half[w], ra, dec)
    return cand[inside]


def wide_rows(index: Index, rows) -> np.ndarray:
    """Which ``rows`` hold a footprint too wide for a polygon (flag ``FLAG_WIDE``: all-sky, more
    than a hemisphere): region tests use their circle of radius ``fov / 2`` about ``ra``/``dec``."""
    from ..index.schema import FLAG_WIDE

    return (np.asarray(index.raw("flag", rows), dtype=np.int64) & FLAG_WIDE) != 0


def _covering_hint(index: Index, names) -> list[str]:
    """For galaxies no file is named after (the companion of a pair, a dwarf in a big field):
    say how many files cover their position, and how to ask for them."""
    out = []
    for name in names:
        pos = index.galaxy_position(name)
        k = len(covering_rows(index, *pos)) if pos is not None else 0
        if k:
            out.append(f"no file is named for {name}, but {k} file(s) cover its position: "
                       f"sfng find --near '{name}' --radius 0.1arcmin")
    return out


def _range_filter(mask, values, rng: Range, quantity: str, notes: list, deferred=None) -> None:
    """``mask &= rng`` on ``values``; unknown (NaN) values never pass.

    Without ``deferred`` they are left out now and counted in ``notes``; with it (a dict) they
    are kept in ``mask`` and ``deferred[quantity] = (unknown mask, option text)``, for the
    caller to leave out and count once every other test is done.
    """
    values = np.asarray(values)
    unknown = mask & ~np.isfinite(values)
    if deferred is not None and unknown.any():
        mask &= rng.mask(values) | unknown
        deferred[quantity] = (unknown, rng.text)
        return
    k = int(np.count_nonzero(unknown))
    mask &= rng.mask(values)
    if k:
        notes.append(_unknown_note(k, quantity, rng.text))


def _unknown_note(k: int, quantity: str, text: str) -> str:
    unit = QUANTITIES[quantity][0]
    return f"{k} row(s) with unknown {quantity} ({unit}) left out by --{quantity.replace('_', '-')} {text!r}"


def galaxy_set(index: Index, selection: Selection) -> list[str]:
    """Galaxies with at least one file for every --has term and none for any --lacks term.

    A term is ``TRACER [constraints]`` (``'CO10 res<15 depth<1K'``): the constraints apply to
    that tracer's files (column names as in --where; ``dist``, ``res_pc``, ``depth`` work).
    """
    has, lacks = selection.terms()
    known = index.where_columns()

    def galaxies_with(term) -> set:
        canon = index.canonical_tracer(term.tracer)
        rows = np.flatnonzero(index.match_text("tracer", [canon], fold=False))
        if term.where is not None and len(rows):
            term.where.check(known)
            rows = rows[np.asarray(term.where.evaluate(lambda name: index.values(name, rows),
                                                       index.canonical_text), dtype=bool)]
        if not len(rows):
            return set()
        return {strip_text(g) for g in index.distinct_in("galaxy", rows)} - {""}

    if has:
        result = galaxies_with(has[0])
        for t in has[1:]:
            result &= galaxies_with(t)
    else:
        result = {g for g in index.file_galaxies()}
    for t in lacks:
        result -= galaxies_with(t)
    return sorted(result)


def _region_mask(index: Index, rows, sel: Selection, notes: list) -> np.ndarray:
    """Footprint overlaps the cone (--near/--cone) and/or the polygon (--polygon).

    A cheap bounding-cap test on the centre and field-size columns goes first; the exact
    spherical tests (:mod:`sfng.footprint`) run only on the rows it keeps.
    """
    from .. import footprint

    keep = np.ones(len(rows), dtype=bool)
    regions = []
    if sel.near:
        pos = index.galaxy_position(sel.near)
        if pos is None:
            raise SfngError(f"--near {sel.near!r}: no position for this galaxy in the index's "
                            f"GALAXIES table (or the store's NED cache); use --cone RA DEC RADIUS")
        regions.append(("cone", (pos[0], pos[1], sel.radius_deg)))
    if sel.cone:
        regions.append(("cone", sel.cone_deg))
    if sel.polygon:
        regions.append(("polygon", sel.polygon_deg))
    ra = index.numbers("ra", rows)
    dec = index.numbers("dec", rows)
    half = index.numbers("fov", rows) / 2.0 / 60.0
    foot_n = np.asarray(index.raw("foot_n", rows), dtype=int)
    # footprints too wide for a polygon (all-sky maps ...) are tested by their bounding circle
    wide = wide_rows(index, rows) & np.isfinite(ra) & np.isfinite(dec)
    half = np.where(wide & ~np.isfinite(half), 180.0, half)
    no_foot = int(np.count_nonzero((foot_n < 1) & ~wide))
    if no_foot:
        notes.append(f"{no_foot} row(s) without a footprint left out by the region test")
    for kind, spec in regions:
        qra, qdec, qrad = spec if kind == "cone" else footprint.cap(*spec)
        near = keep & footprint.cap_prefilter(ra, dec, half, qra, qdec, qrad)
        cand = np.flatnonzero(near & (foot_n >= 1) & ~wide)
        exact = np.zeros(len(rows), dtype=bool)
        if len(cand):
            fra = np.asarray(index.raw("foot_ra", rows[cand]), dtype=float)
            fdec = np.asarray(index.raw("foot_dec", rows[cand]), dtype=float)
            if kind == "cone":
                exact[cand] = footprint.cone_overlaps_many(fra, fdec, foot_n[cand], qra, qdec, qrad)
            else:
                exact[cand] = footprint.polygon_overlaps_many(fra, fdec, foot_n[cand], *spec)
        caps = np.flatnonzero(near & wide)
        if len(caps):
            if kind == "cone":
                exact[caps] = footprint.caps_overlap_cone(ra[caps], dec[caps], half[caps], qra, qdec, qrad)
            else:
                exact[caps] = footprint.caps_overlap_polygon(ra[caps], dec[caps], half[caps], *spec)
        keep &= exact
    return keep


def find(selection: Selection, index_path=None, store=None, sort=None, allow_stale=False) -> Result:
    """``sfng find`` as a function: open the index and select."""
    idx = load_index(index_path, store, allow_stale=allow_stale)
    return select(idx, selection).sort(sort)

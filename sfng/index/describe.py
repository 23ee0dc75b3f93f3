"""One file -> its index row(s).

Header-only: the file's header blocks (:func:`sfng.fitsheader.read_headers`) overlaid on the
survey README's metadata (:func:`sfng.header.effective_header`) give the product type, tracer,
beam, spectral axis, footprint and depth.  Data are read only with ``measure_depth``, and for
the small per-channel ``BEAMS`` table of a CASA cube (``CASAMBM = T``: :mod:`sfng.beamtable`;
its beam of largest major axis gives ``bmaj``/``bmin``/``bpa``/``res``, hence the Jy/beam -> K
conversion of the depth, and ``bmaj_min``/``bmaj_max`` the range over the channels).

Products a registered format claims (:mod:`sfng.formats`: e.g. MaNGA cubes and maps, GZ3D,
HDF5 containers) are described by the format (``Format.describe(path, headers, store_root=...,
measure_depth=...) -> list[dict]``; ``headers`` is None for a non-FITS container such as HDF5);
its rows are laid over the common part of the row (path, size, mtime, sha256, validation ...),
and may carry a ``locator`` per object.  If it fails, the generic FITS row is written with
flag 16.

Noise companions (``X_noise.fits``, ``X_error.fits``, ``X.noise.fits``, PHANGS ``_noise``) are
paired with their product by name (:func:`companion_of`); each row's ``noise_path`` names the
other file, and with ``measure_depth`` a product without REPUNC takes its depth from the median
of its companion noise map.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import formats
from ..beam import beam_from_header
from ..extras import format_extra, parse_extra
from ..header import effective_header
from ..numbers import as_float
from ..obstime import observation_time
from ..polarization import stokes_states
from ..spectral import SPECTRAL_COLUMNS, rest_frequency, spectral_axis
from ..fitsname import fits_stem, is_fits_name
from .schema import (FLAG_BEAM_TABLE, FLAG_DEPTH_ERROR, FLAG_NO_CELESTIAL, FLAG_NO_SIZE,
                     FLAG_PLUGIN_ERROR, FLAG_README_ERROR, FLAG_UNREADABLE, FLAG_WIDE, FOOT_MAX,
                     null_row)

NAN = float("nan")
_STRUCTURAL = frozenset(("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT",
                         "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "NAXIS5", "EXTNAME", "EXTVER",
                         "TFIELDS", "THEAP", "GROUPS", "END", "INHERIT", "CHECKSUM", "DATASUM"))
_BEAM_SRC = {"header": "file", "readme": "readme", "aips-history": "history",
             "beams-table": "table"}


#: Stem endings (before the FITS extension) of uncertainty companions: _noise, .error, -noise ...
_NOISE_STEM = re.compile(r"^(?P<base>.+?)(?:[._-](?:noise|error))$", re.IGNORECASE)


def companion_of(name: str) -> str | None:
    """For a noise/error companion file name, the stem of its product; else None.
    ``ngc628_co21_noise.fits`` -> ``ngc628_co21``; ``x.noise.fits`` -> ``x``."""
    stem = fits_stem(name)
    if stem is None:
        return None
    m = _NOISE_STEM.match(stem)
    return m.group("base") if m else None


def pair_companions(names) -> dict:
    """Within one folder: ``{file name: (role, other file name or "")}`` for FITS names.

    A companion whose product is not in the folder stays a ``noise`` row with no link.
    """
    by_stem, noise = {}, []
    for n in names:
        stem = fits_stem(n)
        if stem is None:
            continue
        m = _NOISE_STEM.match(stem)
        if m:
            noise.append((n, m.group("base")))
        else:
            by_stem.setdefault(stem, n)
    out = {n: ("product", "") for n in by_stem.values()}
    for n, base in noise:
        product = by_stem.get(base)
        out[n] = ("noise", product or "")
        if product:
            out[product] = ("product", n)
    return out


@dataclass
class Context:
    """What describing one file needs besides the file (plain data, picklable for workers).

    ``readme_meta`` is the survey README's metadata; ``readme_error`` its read error, if any.
    ``names`` is the store's name knowledge (:class:`sfng.identity.Names`: NED cache, overrides,
    galaxy table; None: none), ``manifest_galaxy`` the galaxy the folder's manifest records for
    the file ('' none): with the file name, OBJECT and the format they give each row its galaxy.
    """

    root: str
    relpath: str
    tree: str = ""
    survey: str = ""
    readme_meta: dict = field(default_factory=dict)
    readme_error: str = ""
    role: str = "product"
    other: str = ""            # store-relative path of the companion / product
    sha256: str = ""
    measure_depth: bool = False
    validate: bool = True
    tracers: object = None     # sfng.tracers.Vocabulary
    names: object = None       # sfng.identity.Names
    manifest_galaxy: str = ""
    store: object = None       # sfng.store.Store, for validation

    @property
    def path(self) -> Path:
        p = self.__dict__.get("_path")
        if p is None:
            p = self.__dict__["_path"] = Path(self.root) / self.relpath
        return p


def describe_file(ctx: Context, stat=None) -> list[dict]:
    """The index row(s) of one file; never raises for a bad file (the row is flagged)."""
    import os

    from ..fitsheader import read_headers

    path = ctx.path
    st = stat or os.stat(path)
    base = null_row()
    base.update(path=ctx.relpath, tree=ctx.tree, survey=ctx.survey,
                role=ctx.role, noise_path=ctx.other, size=st.st_size, mtime=st.st_mtime,
                sha256=ctx.sha256, flag=0, error="", valid=False, n_problems=-1)
    if ctx.readme_error:
        _flag(base, FLAG_README_ERROR, ctx.readme_error)
    blocks = None
    # A format that claims the file by name reads only the headers it needs (a MaNGA .fits.gz
    # cube holds 24 HDUs behind ~100 MB of compressed data; two suffice); else a format may
    # still recognise the file from the headers read here.
    fits = is_fits_name(path.name)
    fmt = formats.claim_name(path.name, indexed=True)
    if fits and fmt is None:
        try:
            blocks = read_headers(path)
        except Exception as exc:  # noqa: BLE001 - a file that cannot be read is flagged, not fatal
            _flag(base, FLAG_UNREADABLE, str(exc))
            return identify_rows(ctx, [base], None)
    handed = judged = None
    if fmt is not None and ctx.validate and fits:
        blocks, handed = fmt.index_headers(path, measure_depth=ctx.measure_depth)
    if fits:
        judged = _validate(ctx, base, blocks)
    if fmt is None and blocks is not None:
        fmt = formats.claim(path, blocks, indexed=True)
        handed = blocks
    rows = _plugin_rows(ctx, base, fmt, handed) if fmt is not None else None
    if rows is not None:
        return identify_rows(ctx, rows, fmt)
    if blocks is None:
        _flag(base, FLAG_UNREADABLE, "not a FITS file, and no product describer reads it")
        return identify_rows(ctx, [base], fmt)
    return identify_rows(ctx, [describe_blocks(ctx, blocks, base, judged)], fmt)


def identify_rows(ctx: Context, rows: list, fmt=None) -> list:
    """Set each row's ``galaxy`` and ``galaxy_src`` (:func:`sfng.identity.identify`): the file
    name, the manifest, then ``fmt``'s identifiers (:meth:`sfng.formats.Format.identify`) or
    the row's OBJECT, looked up offline in the store's names.  Rows that give the same answer
    are identified once."""
    from ..identity import Names, format_ids, identify

    names = ctx.names if ctx.names is not None else Names()
    name = ctx.path.name
    seen: dict = {}
    for row in rows:
        ids = format_ids(fmt, ctx.path, row)
        key = (tuple(ids) if ids is not None else None, row.get("object") or "")
        got = seen.get(key)
        if got is None:
            got = seen[key] = identify(names, name, manifest=ctx.manifest_galaxy or None, ids=ids,
                                       obj=key[1] or None)
        row["galaxy"], row["galaxy_src"] = got
    return rows


def _flag(row, bit, message):
    row["flag"] = int(row.get("flag") or 0) | bit
    if not row.get("error"):
        row["error"] = _short(message)


def _short(message: str, width: int = 120) -> str:
    """One line that fits the ``error`` column (the full text goes to the build report)."""
    text = " ".join(str(message).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _validate(ctx, row, blocks=None):
    """Header validation for the ``valid``/``n_problems`` columns, on the blocks already read
    (None: the validator reads the headers it needs).  Returns what the checks judged of the
    primary HDU (:attr:`sfng.validate.FileReport.subject`) when they judged it alone, else None."""
    if not ctx.validate:
        return None
    from ..validate import validate_file

    try:
        rep = validate_file(ctx.path, ctx.store, readme_metadata=ctx.readme_meta or {},
                            blocks=blocks, tree=ctx.tree, display=ctx.relpath)
    except Exception as exc:  # noqa: BLE001 - validation trouble must not stop the index
        row["error"] = row.get("error") or _short(f"validation failed: {exc}")
        return None
    row["valid"] = not rep.errors
    row["n_problems"] = len(rep.problems)
    return rep.subject if rep.hdu == 0 else None


def _plugin_rows(ctx, base, fmt, headers):
    """The rows ``fmt`` describes over ``base``; None (generic row, flagged) when it fails or
    does not recognise the file after all (e.g. an HDF5 file that is no sample of its kind)."""
    if not fmt.recognise(ctx.path, headers):
        return None
    try:
        got = fmt.describe(ctx.path, headers, store_root=ctx.root, measure_depth=ctx.measure_depth)
    except Exception as exc:  # noqa: BLE001 - fall back to the generic row, flagged
        _flag(base, FLAG_PLUGIN_ERROR, f"{type(exc).__name__}: {exc}")
        return None
    rows = []
    for extra in got or []:
        row = dict(base)
        row.update(extra)
        if not row.get("frame") and math.isfinite(as_float(row.get("ra"))):
            row["frame"] = "icrs"   # a format gives ICRS positions unless it says otherwise
        rows.append(row)
    return rows or None


def data_block(blocks):
    """The HDU a row describes: the first image HDU with two or more axes, else the first
    image HDU, else the first table; None when the file holds no data.

    A tile-compressed image (``.fits.fz``: a BINTABLE with ZIMAGE = T) counts as the image it
    carries, and is returned as that image (:func:`sfng.fitsheader.compressed_image_block`):
    its header is the image's, as astropy shows it, so the row is the uncompressed file's."""
    from ..fitsheader import image_blocks, image_view

    blocks = image_view(blocks)
    images = image_blocks(blocks)
    for b in images:
        if len(b.shape) >= 2:
            return b
    if images:
        return images[0]
    tables = [b for b in blocks if _xtension(b) in ("BINTABLE", "TABLE")]
    return tables[0] if tables else None


def _xtension(block) -> str:
    """'' for the primary HDU, else the XTENSION value."""
    return "" if block.index == 0 else str(block.xtension or "").strip()


def header_cards(blocks, chosen):
    """Cards of ``chosen`` with the primary header's non-structural keys underneath (an
    extension inherits what the primary says unless it says otherwise)."""
    if chosen is None or chosen.index == 0:
        return list((chosen or blocks[0]).cards)
    prim = [c for c in blocks[0].cards if c[0] not in _STRUCTURAL]
    return prim + list(chosen.cards)


def _derivation(relpath: str, h) -> dict:
    """``derived_from`` (the DERIN<n> cards, ';'-separated) and ``prov`` (PROVFILE beside the file)."""
    import posixpath

    inputs = []
    for n in range(1, 100):
        v = h.get(f"DERIN{n}")
        if v is None:
            break
        inputs.append(_text(v))
    return {"derived_from": ";".join(inputs),
            "prov": posixpath.join(posixpath.dirname(relpath), _text(h.get("PROVFILE")))}


def describe_blocks(ctx: Context, blocks, base: dict, judged=None) -> dict:
    """The generic FITS row for ``blocks`` over ``base`` (the common part of the row).

    ``judged``: what validation judged of the primary HDU (:attr:`sfng.validate.FileReport.subject`:
    its effective header over the same README, spectral axis and beam), used when the row
    describes that HDU too, so they are worked out once per file."""
    row = dict(base)
    chosen = data_block(blocks)
    if judged is None or chosen is None or chosen.index != 0:
        judged = None
    eff = judged.eff if judged is not None else effective_header(header_cards(blocks, chosen),
                                                                 ctx.readme_meta)
    h = eff.values   # plain dict: the many look-ups below skip the Mapping machinery
    row["hdu"] = chosen.index if chosen is not None else 0
    row["object"] = _text(h.get("OBJECT"))
    row["telescop"] = _text(h.get("TELESCOP"))
    row["instrume"] = _text(h.get("INSTRUME"))
    row["bunit"] = _text(h.get("BUNIT"))
    row["from_readme"] = ",".join(eff.from_readme())
    is_table = chosen is not None and _xtension(chosen) in ("BINTABLE", "TABLE")
    naxis = _int(h.get("NAXIS"), 0)
    row["naxis"] = naxis
    for n in range(1, 5):
        row[f"naxis{n}"] = _int(h.get(f"NAXIS{n}"), -1) if n <= naxis else -1
        row[f"ctype{n}"] = _text(h.get(f"CTYPE{n}"))
        row[f"cunit{n}"] = _text(h.get(f"CUNIT{n}"))
        row[f"cdelt{n}"] = _step(h, n)
        row[f"crval{n}"] = as_float(h.get(f"CRVAL{n}"))
    states = stokes_states(h)
    if states:   # a STOKES axis: its states in pixel order (ObsCore pol_states, pol_xel)
        row["extra"] = format_extra({**parse_extra(row.get("extra") or ""), "pol": ",".join(states)})
    row["specres"] = as_float(h.get("SPECRES"))
    row["repunc"] = as_float(h.get("REPUNC"))
    row.update(observation_time(h).row())   # DATE-OBS/MJD-OBS/DATE-END/MJD-END/EXPTIME, TIMESYS
    if h.get("PROVFILE"):   # a product of sfng derive: its inputs and provenance record
        row.update(_derivation(ctx.relpath, h))

    table = None if is_table else _beam_table(ctx, blocks, row)
    beam = (table.largest if table is not None
            else judged.header_beam if judged is not None else beam_from_header(eff))
    if beam is not None:
        if beam.ok:
            lo, hi = table.major_range if table is not None else (beam.major, beam.major)
            row.update(bmaj=beam.major, bmin=beam.minor, bpa=beam.pa,
                       beam_src=_BEAM_SRC.get(beam.source, beam.source[:8]), res=beam.major,
                       bmaj_min=lo, bmaj_max=hi)
        else:
            row["beam_src"] = "suspect"
    if is_table:
        spec = None
    else:  # the checks' spectral axis is that of an image HDU only (a NAXIS = 0 one has none)
        spec = judged.spectral if judged is not None and judged.is_image else spectral_axis(eff)
    restfrq = NAN
    if spec is not None:
        restfrq = spec.restfrq
        row["spec_type"] = spec.code
        row["chan_kms"] = spec.chan_kms
        lo, hi, unit = spec.coverage
        row.update(spec_min=lo, spec_max=hi, spec_unit=unit)
        if spec.kind == "velocity":
            # the velocity convention (radio, optical, relativistic; '' unknown), for turning the
            # coverage into frequencies: an AIPS VELO-xxx axis takes VELREF's, which spec_type
            # (VELO, Paper III's relativistic type) cannot say
            row["extra"] = format_extra({**parse_extra(row.get("extra") or ""),
                                         "vconv": spec.convention or "unknown"})
    else:  # RESTFRQ = 0 (or negative) means unknown, as on a spectral axis
        restfrq = rest_frequency(h)[0]
    row["restfrq"] = restfrq

    if ctx.tracers is not None:
        tracer, how = ctx.tracers.infer(h, restfrq=restfrq if math.isfinite(restfrq) else None)
        row["tracer"], row["tracer_src"] = tracer or "", how
    row["product"] = _product(is_table, chosen, h, spec, naxis)

    if not is_table:
        fp = _footprint(eff)
        # a 1-D spectrum has no footprint to miss (its position, if any, is kept)
        if isinstance(fp, str):
            if row["product"] in ("image", "cube"):
                _flag(row, FLAG_NO_CELESTIAL, fp)
        else:
            values, bit, why = fp
            row.update(values)
            if bit and (bit != FLAG_NO_SIZE or row["product"] in ("image", "cube")):
                _flag(row, bit, why)
    if row["role"] == "product":
        _depth(ctx, row, chosen)
    return row


def _beam_table(ctx, blocks, row):
    """The per-channel beams of a CASA cube (:mod:`sfng.beamtable`), for a file that has or
    promises a BEAMS table; else None.  A missing or damaged table flags the row (the header's
    beam, if any, is used instead)."""
    from ..beamtable import BeamTableError, beams_of, promised

    if not promised(b.header for b in blocks):
        return None
    try:
        return beams_of(ctx.path, blocks)
    except BeamTableError as exc:
        _flag(row, FLAG_BEAM_TABLE, exc.reason)
        return None


def _product(is_table, chosen, eff, spec, naxis) -> str:
    if is_table:
        names = {str(eff.get(f"TTYPE{i}", "")).upper() for i in range(1, _int(eff.get("TFIELDS"), 0) + 1)}
        return "spectra" if names & SPECTRAL_COLUMNS else "table"
    if spec is not None and spec.naxis > 1:
        sizes = [_int(eff.get(f"NAXIS{n}"), 1) for n in range(1, naxis + 1)]
        big = [s for s in sizes if s > 1]
        return "spectra" if len(big) == 1 else "cube"
    return "image"


def _footprint(eff):
    """``(row values, flag bit or 0, why)`` of the celestial outline (ICRS, :mod:`sfng.footprint`),
    or a string: why there is none."""
    from ..footprint import outline

    try:
        fp = outline(eff)
    except Exception as exc:  # noqa: BLE001 - a broken WCS means no footprint (flagged), not a crash
        return "no footprint: " + " ".join(str(exc).split())
    if fp is None:
        return "no celestial WCS: no footprint"
    values = {"frame": fp.frame, "foot_n": 0}
    ra0, dec0 = fp.centre
    if math.isfinite(ra0) and math.isfinite(dec0):
        values.update(ra=float(ra0), dec=float(dec0))
    if fp.kind == "centre":
        return values, FLAG_NO_SIZE, "no data array / image size: no footprint (ra/dec: CRVAL)"
    values["fov"] = float(fp.size_arcmin)
    if fp.kind == "cap":
        what = "the whole sky" if fp.radius >= 180.0 else f"a circle of radius {fp.radius:.1f} deg"
        return values, FLAG_WIDE, f"footprint too wide for a polygon: region tests use {what}"
    ras, decs = list(fp.ra), list(fp.dec)
    if len(ras) > FOOT_MAX:
        step = len(ras) / FOOT_MAX
        keep = [int(i * step) for i in range(FOOT_MAX)]
        ras, decs = [ras[i] for i in keep], [decs[i] for i in keep]
    values.update(foot_n=len(ras), foot_ra=ras, foot_dec=decs)
    return values, 0, ""


def _depth(ctx, row, chosen):
    """rms in K in the native channel and at 1 km/s (see :mod:`sfng.units`)."""
    from ..units import depth_at, measure_rms, to_kelvin

    sigma, src = NAN, ""
    if math.isfinite(row["repunc"]):
        sigma, src = row["repunc"], "repunc"
    elif ctx.measure_depth:
        try:
            if row["noise_path"]:
                sigma = _median_of(Path(ctx.root) / row["noise_path"])
                src = "noise"
            elif chosen is not None and row["product"] in ("cube", "image"):
                sigma = _with_data(ctx.path, chosen.index, measure_rms)
                src = "measured"
        except Exception as exc:  # noqa: BLE001 - unreadable data: depth stays unknown
            _flag(row, FLAG_DEPTH_ERROR, f"--measure-depth: {exc}")
            sigma, src = NAN, ""
    if not math.isfinite(sigma):
        return
    rms_k = to_kelvin(sigma, row["bunit"], row["restfrq"], row["bmaj"], row["bmin"])
    if not math.isfinite(rms_k):
        return
    row["rms_k"], row["depth_src"] = rms_k, src
    if row["product"] == "cube":
        row["depth_k"] = depth_at(rms_k, row["chan_kms"], 1.0)


def _with_data(path, hdu, fn):
    """``fn(data)`` on HDU ``hdu``'s data, memory-mapped: ``fn`` subsamples, so a big cube is
    not read whole."""
    from astropy.io import fits

    with fits.open(path, memmap=True, lazy_load_hdus=True) as hl:
        data = hl[hdu].data
        return fn(data) if data is not None else NAN


def _median_of(path) -> float:
    """Median of the positive finite pixels of a noise map (its typical 1-sigma)."""
    from ..fitsheader import read_headers

    b = data_block(read_headers(path))
    return NAN if b is None else _with_data(path, b.index, _positive_median)


def _positive_median(data, max_samples: int = 2_000_000) -> float:
    import numpy as np

    a = np.asarray(data).ravel()
    if a.size > max_samples:
        a = a[:: -(-a.size // max_samples)]
    a = a[np.isfinite(a) & (a > 0)]
    return float(np.median(a)) if a.size else NAN


def _text(v) -> str:
    if v is None:
        return ""
    return str(v).strip()


def _int(v, default):
    if v is None or isinstance(v, bool):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _step(eff, n) -> float:
    cd = eff.get(f"CD{n}_{n}")
    if cd is not None:
        return as_float(cd)
    cdelt = as_float(eff.get(f"CDELT{n}"))
    pc = eff.get(f"PC{n}_{n}")
    if pc is not None and math.isfinite(cdelt):
        return cdelt * as_float(pc)
    return cdelt

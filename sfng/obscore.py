"""A query result as an IVOA ObsCore table (ObsCore 1.1), written as a VOTable.

Virtual-observatory tools (TOPCAT, pyvo, astropy) read the file as they read an ObsTAP
answer.  Columns follow the standard's names, units, UCDs and utypes; values the index does
not hold (time resolution, resolving power, the polarisation of a file without a STOKES axis,
the band of a line map of unknown redshift) are left empty, never invented.

With the URL of an ``sfng serve`` service (``base_url``), each row's ``access_url`` is the
file on that service (``{base_url}/files/{file id}``), a ``datalink_url`` column gives its
DataLink links (``#this``, ``#preview``, the SODA cutout service), and the VOTable carries a
DataLink service descriptor (``ivo://ivoa.net/std/DataLink#links-1.1``, ``ID`` =
``obs_publisher_did``), which pyvo's ``iter_datalinks`` and TOPCAT's DataLink activation use.
"""

from __future__ import annotations

import base64
import hashlib
import math
import urllib.parse
from pathlib import Path

import numpy as np

from .naming import shown


#: (name, unit, ucd, utype suffix after "obscore:", description) in the standard's order.
FIELDS = [
    ("dataproduct_type", "", "meta.code.class", "ObsDataset.dataProductType", "image, cube or spectrum"),
    ("calib_level", "", "meta.code;obs.calib", "ObsDataset.calibLevel", "3 science ready (data/), 4 derived/"),
    ("obs_collection", "", "meta.id", "DataID.Collection", "survey"),
    ("obs_id", "", "meta.id", "DataID.observationID", "file name, then the object in it: name.fits[EXTNAME]"),
    ("obs_publisher_did", "", "meta.ref.ivoid", "Curation.PublisherDID", "identifier in the store"),
    ("access_url", "", "meta.ref.url", "Access.Reference", "where to get the file"),
    ("access_format", "", "meta.code.mime", "Access.Format", "file format"),
    ("access_estsize", "kbyte", "phys.size;meta.file", "Access.Size", "file size"),
    ("target_name", "", "meta.id;src", "Target.Name", "galaxy (NED preferred name)"),
    ("s_ra", "deg", "pos.eq.ra", "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1", "field centre RA"),
    ("s_dec", "deg", "pos.eq.dec", "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2", "field centre Dec"),
    ("s_fov", "deg", "phys.angSize;instr.fov", "Char.SpatialAxis.Coverage.Bounds.Extent.diameter", "field size"),
    ("s_region", "", "pos.outline;obs.field", "Char.SpatialAxis.Coverage.Support.Area", "footprint (STC-S)"),
    ("s_resolution", "arcsec", "pos.angResolution", "Char.SpatialAxis.Resolution.Refval.value", "beam FWHM"),
    ("s_xel1", "", "meta.number", "Char.SpatialAxis.numBins1", "pixels along axis 1"),
    ("s_xel2", "", "meta.number", "Char.SpatialAxis.numBins2", "pixels along axis 2"),
    ("t_min", "d", "time.start;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StartTime", "observation start, MJD (UTC): index mjd_obs"),
    ("t_max", "d", "time.end;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StopTime", "observation end, MJD (UTC): index mjd_end"),
    ("t_exptime", "s", "time.duration;obs.exposure", "Char.TimeAxis.Coverage.Support.Extent", "exposure time: index exptime"),
    ("t_resolution", "s", "time.resolution", "Char.TimeAxis.Resolution.Refval.value", "unknown"),
    ("t_xel", "", "meta.number", "Char.TimeAxis.numBins", "unknown"),
    ("em_min", "m", "em.wl;stat.min", "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
     "shortest observed wavelength (an optical line map: its rest wavelength times 1 + z)"),
    ("em_max", "m", "em.wl;stat.max", "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
     "longest observed wavelength"),
    ("em_res_power", "", "spect.resolution", "Char.SpectralAxis.Resolution.ResolPower.refVal", "unknown"),
    ("em_xel", "", "meta.number", "Char.SpectralAxis.numBins", "spectral channels"),
    ("o_ucd", "", "meta.ucd", "Char.ObservableAxis.ucd", "what the pixel values are"),
    ("pol_states", "", "meta.code;phys.polarization", "Char.PolarizationAxis.stateList",
     "states of the STOKES axis (/I/, /I/Q/U/V/); empty without one: unknown"),
    ("pol_xel", "", "meta.number", "Char.PolarizationAxis.numBins", "pixels along the STOKES axis; -1 unknown"),
    ("facility_name", "", "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name", "TELESCOP"),
    ("instrument_name", "", "meta.id;instr", "Provenance.ObsConfig.Instrument.name", "INSTRUME"),
]

#: The column added with a service URL (not in the standard; TOPCAT and people read it).
DATALINK_FIELD = ("datalink_url", "", "meta.ref.url", None, "the DataLink links of the row on the service")
DATALINK_STANDARD = "ivo://ivoa.net/std/DataLink#links-1.1"


def service_file_id(path: str, locator: str = "") -> str:
    """The id ``sfng serve`` gives the index row of ``path`` + ``locator`` (its ``/files/<id>``).

    The same bytes as :func:`sfng.serve.ids.file_id` of :func:`sfng.serve.ids.path_key` (kind 2,
    the first 8 bytes of the SHA-256 of path + locator, base64url); the service layer sits above
    this one, so the rule is written here too and a test holds the two together."""
    key = hashlib.sha256((path + locator).encode("utf-8", "surrogateescape")).digest()[:8]
    return base64.urlsafe_b64encode(b"\x02" + key).rstrip(b"=").decode("ascii")


def _access_format(path: str) -> str:
    n = path.lower()
    if n.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz")):
        return "image/fits"
    if n.endswith((".h5", ".hdf5", ".hdf")):
        return "application/x-hdf5"
    return "application/octet-stream"


_PRODUCT = {"cube": "cube", "image": "image", "spectra": "spectrum", "spectrum": "spectrum",
            "table": "measurements"}


def _o_ucd(bunit: str) -> str:
    b = bunit.strip().upper().replace(" ", "")
    if b in ("K", "MK"):
        return "phot.antennaTemp"
    if "/SR" in b or "ARCSEC2" in b or "ARCSEC**2" in b or "/PIX" in b:
        return "phot.flux.density.sb"
    if "JY" in b:
        return "phot.flux.density"
    return ""


def _redshifts(rows, store) -> np.ndarray:
    """Each row's redshift: the ``z`` its survey recorded in ``extra`` (MaNGA: the NSA redshift of
    DRPall), else the galaxy table's NED redshift (with the store at hand), else NaN."""
    from .extras import parse_extra

    table = None
    if store is not None:
        try:
            from .galaxies import read_galaxies

            table = read_galaxies(store)
        except Exception:  # noqa: BLE001 - no readable galaxy table: redshifts from the rows only
            table = None
    out = np.full(len(rows["path"]), np.nan)
    for i, (extra, gal) in enumerate(zip(rows["extra"], rows["galaxy"])):
        z = parse_extra(str(extra)).get("z")
        if isinstance(z, (int, float)) and math.isfinite(z):
            out[i] = z
        elif table is not None:
            g = table.find(str(gal))
            if g is not None and math.isfinite(g.redshift):
                out[i] = g.redshift
    return out


def _wavelengths(rows: dict, vocab, redshifts) -> tuple[np.ndarray, np.ndarray]:
    """(em_min, em_max) in metres through :func:`sfng.spectral.band_metres`; NaN when nothing says."""
    from .spectral import band_metres, velocity_convention

    n = len(rows["path"])
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    types, extras = rows.get("spec_type", [""] * n), rows.get("extra", [""] * n)
    for i in range(n):
        t = vocab.tracers.get(str(rows["tracer"][i])) if vocab is not None else None
        conv = velocity_convention(str(types[i]), str(extras[i]))
        band = band_metres(rows["restfrq"][i], rows["spec_min"][i], rows["spec_max"][i],
                           str(rows["spec_unit"][i]), t, redshifts[i], conv)
        if band is not None:
            lo[i], hi[i] = band
    return lo, hi


def _pol(extra: str) -> tuple[str, int]:
    """(``pol_states``, ``pol_xel``) from the ``pol`` of ``extra`` (a STOKES axis); ('', -1) unknown."""
    from .extras import parse_extra
    from .polarization import obscore_pol_states

    states = [s for s in str(parse_extra(extra).get("pol", "")).split(",") if s]
    text = obscore_pol_states(states)
    return (text, len(states)) if text else ("", -1)


def obs_id(path: str, locator: str) -> str:
    """ObsCore ``obs_id``: the file name, then the object in the file in CFITSIO's extended-name
    form: ``name.fits[EXTNAME]``, ``name.fits[EXTNAME]#channel`` (one channel of a multi-channel
    HDU), ``name.h5#group`` (an object in a container)."""
    name = Path(path).name
    loc = str(locator)
    if not loc or loc.startswith(("[", "#")):
        return name + loc
    hdu, sep, rest = loc.partition("#")
    return f"{name}[{hdu}]{sep}{rest}"


def _region(ra, dec, n, centre=(math.nan, math.nan), fov=math.nan) -> str:
    """STC-S ``s_region`` (ICRS): the footprint polygon; for a row with a field size but no
    polygon (a footprint too wide for one: all-sky maps, more than a hemisphere) the circle of
    radius ``fov / 2`` about its centre, which holds the whole field (radius 180: the sky)."""
    if n == 0 and math.isfinite(fov) and fov > 0 and all(math.isfinite(x) for x in centre):
        return f"CIRCLE ICRS {centre[0]:.7f} {centre[1]:.7f} {min(fov / 120.0, 180.0):.7f}"
    if n < 3:
        return ""
    from .footprint import to_stcs

    return to_stcs(ra[:n], dec[:n])


def em_range(result, rows: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(em_min, em_max) of each of ``result``'s rows, vacuum wavelengths in metres (NaN unknown),
    by the rules of ObsCore's columns (:func:`sfng.spectral.band_metres`; redshifts from the
    rows' ``extra`` or the galaxy table).  ``rows``: the columns, when already read."""
    idx = result.index
    if rows is None:
        rows = {}
        for c in ("path", "galaxy", "tracer", "restfrq", "spec_min", "spec_max", "spec_unit", "spec_type",
                  "extra"):
            if c in idx.files.dtype.names:
                rows[c] = result.column(c)
            else:
                rows[c] = (np.array([""] * len(result)) if c in ("spec_unit", "spec_type", "extra")
                           else np.full(len(result), np.nan))
    try:
        vocab = idx.vocabulary()
    except Exception:  # noqa: BLE001 - no vocabulary: wavelengths from the headers only
        vocab = None
    return _wavelengths(rows, vocab, _redshifts(rows, idx.store))


def obscore_table(result, base_url: str | None = None, store_name: str | None = None):
    """An astropy Table with the ObsCore columns for the rows of ``result``."""
    from astropy.table import Table

    idx = result.index
    need = ["path", "locator", "tree", "survey", "galaxy", "product", "tracer", "bunit", "naxis1",
            "naxis2", "naxis3", "ra", "dec", "fov", "res", "restfrq", "spec_min", "spec_max",
            "spec_unit", "spec_type", "size", "telescop", "instrume", "foot_n", "mjd_obs", "mjd_end", "exptime",
            "extra"]
    rows = {c: result.column(c) for c in need if c in idx.files.dtype.names}
    for c in need:
        rows.setdefault(c, np.full(len(result), np.nan) if c not in ("spec_unit", "spec_type", "locator", "telescop",
                                                                     "instrume", "extra")
                        else np.array([""] * len(result)))
    fra = np.asarray(idx.raw("foot_ra", result.rows), dtype=float)
    fdec = np.asarray(idx.raw("foot_dec", result.rows), dtype=float)
    em_min, em_max = em_range(result, rows)
    store = store_name or idx.meta.get("store") or "sfng"
    paths = [str(p) for p in rows["path"]]
    locs = [str(loc) for loc in rows["locator"]]
    dids = [f"ivo://sfng/{store}?{p}{loc}" for p, loc in zip(paths, locs)]
    base = base_url.rstrip("/") if base_url else None
    if base:
        urls = [f"{base}/files/{service_file_id(p, loc)}" for p, loc in zip(paths, locs)]
    elif idx.store is not None:
        urls = [(idx.store.root / p).as_uri() for p in paths]
    else:
        urls = paths
    n = len(result)
    t = Table()
    t["dataproduct_type"] = [_PRODUCT.get(str(p), str(p)) for p in rows["product"]]
    t["calib_level"] = np.array([4 if str(tr) == "derived" else 3 for tr in rows["tree"]], dtype=np.int16)
    t["obs_collection"] = [str(s) for s in rows["survey"]]
    t["obs_id"] = [obs_id(p, loc) for p, loc in zip(paths, locs)]
    t["obs_publisher_did"] = dids
    t["access_url"] = urls
    t["access_format"] = [_access_format(p) for p in paths]
    t["access_estsize"] = np.array([max(0, int(s)) // 1024 if int(s) >= 0 else -1 for s in rows["size"]],
                                   dtype=np.int64)
    t["target_name"] = [str(g) for g in rows["galaxy"]]
    t["s_ra"] = np.asarray(rows["ra"], dtype=float)
    t["s_dec"] = np.asarray(rows["dec"], dtype=float)
    t["s_fov"] = np.asarray(rows["fov"], dtype=float) / 60.0
    t["s_region"] = [_region(a, d, int(k), (float(r0), float(d0)), float(f))
                     for a, d, k, r0, d0, f in zip(fra, fdec, rows["foot_n"], rows["ra"], rows["dec"],
                                                   rows["fov"])]
    t["s_resolution"] = np.asarray(rows["res"], dtype=float)
    t["s_xel1"] = np.asarray(rows["naxis1"], dtype=np.int64)
    t["s_xel2"] = np.asarray(rows["naxis2"], dtype=np.int64)
    for c, col in (("t_min", "mjd_obs"), ("t_max", "mjd_end"), ("t_exptime", "exptime")):
        t[c] = np.asarray(rows[col], dtype=float)
    t["t_resolution"] = np.full(n, np.nan)
    t["t_xel"] = np.full(n, -1, dtype=np.int64)
    t["em_min"] = em_min
    t["em_max"] = em_max
    t["em_res_power"] = np.full(n, np.nan)
    t["em_xel"] = np.array([int(x) if str(p) == "cube" else 1 for x, p in zip(rows["naxis3"], rows["product"])],
                           dtype=np.int64)
    t["o_ucd"] = [_o_ucd(str(b)) for b in rows["bunit"]]
    pol = [_pol(str(x)) for x in rows["extra"]]
    t["pol_states"] = [p for p, _ in pol]
    t["pol_xel"] = np.array([k for _, k in pol], dtype=np.int64)
    t["facility_name"] = [str(x) for x in rows["telescop"]]
    t["instrument_name"] = [str(x) for x in rows["instrume"]]
    if base:
        t["datalink_url"] = [f"{base}/datalink?ID={urllib.parse.quote(d, safe='')}" for d in dids]
    for name in t.colnames:  # text as UTF-8 carries it (a file name that is not UTF-8: \xNN)
        if t[name].dtype.kind == "U" and any(not str(v).isascii() for v in t[name]):
            t[name] = [shown(v) for v in t[name]]
    for name, unit, ucd, utype, desc in FIELDS + ([DATALINK_FIELD] if base else []):
        if unit:
            t[name].unit = unit
        t[name].description = desc
    return t


def _datalink_descriptor(base_url: str) -> str:
    """The DataLink service descriptor of an ``sfng serve`` service (its ``ID`` parameter
    refers to the ``obs_publisher_did`` column)."""
    from xml.sax.saxutils import quoteattr

    return ('<RESOURCE type="meta" utype="adhoc:service" ID="datalink">\n'
            "<DESCRIPTION>The DataLink links of each row: the file, a preview, SODA cutouts</DESCRIPTION>\n"
            f'<PARAM name="standardID" datatype="char" arraysize="*" value="{DATALINK_STANDARD}"/>\n'
            f'<PARAM name="accessURL" datatype="char" arraysize="*" '
            f'value={quoteattr(base_url.rstrip("/") + "/datalink")}/>\n'
            '<GROUP name="inputParams">\n'
            '<PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.main" ref="obs_publisher_did" '
            'value=""/>\n</GROUP>\n</RESOURCE>\n')


def write_obscore(result, path, base_url: str | None = None) -> Path:
    """Write ``result`` as an ObsCore VOTable at ``path`` (atomic; never overwrites)."""
    import io

    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Info

    from .fsutil import atomic_write_bytes

    t = obscore_table(result, base_url=base_url)
    vot = from_table(t)
    resource = vot.resources[0]
    resource.type = "results"
    # What a TAP service answers with; pyvo's DALResults looks for it.
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    table = resource.tables[0]
    table.name = "obscore"
    table.description = "SFNG store selection in the IVOA ObsCore 1.1 data model"
    meta = {f[0]: f for f in FIELDS + [DATALINK_FIELD]}
    for fld in table.fields:
        _, unit, ucd, utype, desc = meta[fld.name]
        fld.ucd = ucd
        if utype:
            fld.utype = "obscore:" + utype
        if fld.name == "obs_publisher_did":
            fld.ID = "obs_publisher_did"   # what the DataLink descriptor's ID parameter refers to
        if fld.datatype in ("char", "unicodeChar") and str(fld.arraysize) == "1":
            fld.arraysize = "*"    # an all-empty text column: arraysize="1" is deprecated (VOTable 1.3 erratum 3)
        if fld.datatype == "int" or fld.datatype == "long" or fld.datatype == "short":
            fld.values.null = -1
    buf = io.BytesIO()
    vot.to_xml(buf)
    data = buf.getvalue()
    if base_url:   # astropy writes no GROUP inside a RESOURCE: the descriptor goes in as text
        end = data.rindex(b"</VOTABLE>")
        data = data[:end] + _datalink_descriptor(base_url).encode("utf-8") + data[end:]
    return atomic_write_bytes(path, data)

"""The one declared column list of ``SFNG-INDEX.fits``.

Code (builder, writer, reader), tests and the generated docs page (``docs/index-schema.md``)
all read these lists; a column exists only if it is declared here.  Every column is
fixed-width (IDL ``mrdfits`` reads no variable-length arrays): strings have a declared width
and longer values are cut (the builder reports it), arrays have a declared ``shape``.  The
declared sizes are maxima: each FILES column is stored only as wide as the index's values need
(:mod:`sfng.index.layout`), so ``TFORMn`` may be narrower.

Unknown values are stored as unknown: NaN for floats, ``""`` for strings, ``-1`` for counts
that cannot be negative (``naxis*``, ``n_problems``, ``size``).

Text is UTF-8 (:data:`TEXT_NOTE`; header card ``TEXTENC = 'UTF-8'``); widths count bytes.

Bump :data:`SCHEMA_VERSION` whenever a column is added, removed, renamed or changes meaning, and
freeze the new version: ``python -m sfng.index.frozen`` writes ``sfng/index/schemas/v<N>.yaml``
(add ``renamed: {new: old}`` there for a renamed column).  Readers refuse an index whose version
is newer than theirs or has no frozen schema; one older than theirs is read through its frozen
schema, with a note, and ``sfng index migrate`` rewrites it (:mod:`sfng.index.migrate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..naming import STORED_PATH_MAX

#: Version of the index layout (header card ``SFNGSCHV``).  History: 1, sfng 0.1; 2 adds
#: ``galaxy_src``, ``frame``, ``bmaj_min``/``bmaj_max`` and flags 64 (BEAMS table), 128 (no
#: size), 256 (wide footprint), with text stored as UTF-8 (``TEXTENC``); 3 adds the observation
#: times ``date_obs``, ``mjd_obs``, ``mjd_end``, ``exptime``, for derived products
#: ``derived_from`` and ``prov`` (sfng derive), and the data versions ``version``, ``current``.
SCHEMA_VERSION = 3

#: How text columns are stored (``TFORMn = 'nA'``, FITS 4.0 allows only ASCII there): said in
#: the header card ``TEXTENC`` and in docs/index-schema.md.
TEXT_NOTE = ("Text columns hold UTF-8 (header card `TEXTENC = 'UTF-8'`), padded with NULs; their "
             "width counts bytes, so a non-ASCII character takes 2 to 4. A file name that is not "
             "valid UTF-8 is stored as its bytes on disk, exactly: decode with "
             "`errors='surrogateescape'` to get Python's `os.fsdecode` name back (sfng shows such "
             "bytes as `\\xNN`). astropy.io.fits and astropy tables read the columns as bytes; "
             "fitsio decodes them as ASCII and refuses a row holding a non-ASCII name. "
             "`path` holds the whole store path: `sfng ingest` refuses a file whose stored path "
             "would not fit.")

#: Maximum number of footprint vertices kept per row (``foot_ra``/``foot_dec``).
FOOT_MAX = 16

FILES_HDU = "FILES"
GALAXIES_HDU = "GALAXIES"

# ``flag`` bits: why a row is incomplete.
FLAG_UNREADABLE = 1      #: the file could not be read as FITS (see ``error``)
FLAG_NO_CELESTIAL = 2    #: no usable celestial WCS: no footprint, no centre
FLAG_README_ERROR = 4    #: the survey README's metadata block could not be read
FLAG_TRUNCATED = 8       #: a string value was longer than its column and was cut
FLAG_PLUGIN_ERROR = 16   #: a product-specific describer failed; generic row written instead
FLAG_DEPTH_ERROR = 32    #: --measure-depth could not read the data
FLAG_BEAM_TABLE = 64     #: the CASA BEAMS table (CASAMBM) is missing or damaged: no per-channel beams
FLAG_NO_SIZE = 128       #: a celestial WCS but no data array / size: centre (CRVAL) only, no footprint
FLAG_WIDE = 256          #: footprint wider than a polygon can hold (all-sky, > hemisphere): a cap

FLAGS = {
    FLAG_UNREADABLE: "unreadable: the file could not be read as FITS",
    FLAG_NO_CELESTIAL: "no celestial WCS (or one sfng cannot use or convert to ICRS: see error): "
                       "no footprint or centre",
    FLAG_README_ERROR: "the survey README metadata block could not be read",
    FLAG_TRUNCATED: "a text value was longer than its column and was cut",
    FLAG_PLUGIN_ERROR: "the product-specific describer failed; generic row written",
    FLAG_DEPTH_ERROR: "--measure-depth could not read the data",
    FLAG_BEAM_TABLE: "the BEAMS table (CASAMBM = T) is missing or damaged: per-channel beams unknown",
    FLAG_NO_SIZE: "no data array / size: no footprint (ra/dec is the WCS reference point CRVAL, in ICRS)",
    FLAG_WIDE: "footprint covers the whole sky or more than a hemisphere (or spans a pole so that "
               "no polygon outlines it): no polygon; region tests use the circle of radius fov/2 "
               "about ra/dec, so an all-sky map (fov = 21600 arcmin) matches every region",
}


@dataclass(frozen=True)
class Column:
    """One index column.

    Attributes
    ----------
    name : str
        Lower-case column name (TTYPEn).
    dtype : str
        numpy type: ``U<n>`` text of width n, ``f8``/``f4`` float, ``i2``/``i4``/``i8`` integer,
        ``?`` boolean (FITS logical).
    unit : str
        FITS unit string (TUNITn), ``""`` when dimensionless or text.
    description : str
        One line for people (TTYPEn comment, TCOMMn, and the docs page).
    shape : tuple
        ``()`` for scalars, ``(n,)`` for fixed-length arrays (written with TDIMn).
    """

    name: str
    dtype: str
    unit: str
    description: str
    shape: tuple = ()

    @property
    def kind(self) -> str:
        return self.dtype[0]

    @property
    def width(self) -> int:
        """Characters of a text column."""
        return int(self.dtype[1:]) if self.kind == "U" else 0

    @property
    def null(self):
        """The value meaning "unknown"."""
        return {"U": "", "f": float("nan"), "i": -1, "?": False}[self.kind]


def _axes(prefix, dtype, unit, what):
    return [Column(f"{prefix}{n}", dtype, unit, f"{prefix.upper()}{n}: {what} of axis {n}")
            for n in range(1, 5)]


FILES_COLUMNS: list[Column] = [
    Column("path", f"U{STORED_PATH_MAX}", "", "file path relative to the store root, with / between "
                                              f"folders (UTF-8, at most {STORED_PATH_MAX} bytes: sfng "
                                              f"ingest refuses a longer one)"),
    Column("locator", "U64", "", "object inside the file: '' for the file itself, '[EXTNAME]' or "
                                 "'[n]' for an HDU, 'EXTNAME#channel' for one channel of a "
                                 "multi-channel HDU (MaNGA DAP maps), '#name' for an object in a "
                                 "container"),
    Column("tree", "U8", "", "store tree: data or derived"),
    Column("survey", "U40", "", "survey (the folder data/<SURVEY>/, or data/<SURVEY>@<VERSION>/ "
                                "without its version)"),
    Column("version", "U24", "", "data version: the folder data/<SURVEY>@<VERSION>/; '' for the "
                                 "unversioned data/<SURVEY>/ (docs/versions.md)"),
    Column("current", "?", "", "true for the current version of its survey: the one sfng.yaml "
                               "names (versions: {SURVEY: V}), else the highest by natural sort "
                               "(v1.2 < v1.10; unversioned lowest); true for every row of an "
                               "unversioned survey"),
    Column("galaxy", "U48", "", "galaxy: the NED preferred name (the galaxy table's name when it "
                                "lists it as an alias), found as galaxy_src says; '' unknown"),
    Column("galaxy_src", "U12", "", "how the galaxy was found, first that answers: file-name "
                                    "(NAME.original, NAME known to the store's NED cache or galaxy "
                                    "table), manifest (ingest's record), format-id (the format's "
                                    "own identifier, e.g. MaNGA <MANGAID>, via the NED cache), "
                                    "object (OBJECT via the NED cache), survey-name (a survey-style "
                                    "file name via the NED cache), name-form (NAME.original, NAME "
                                    "unknown to the store), position (NED position search, only "
                                    "with --resolve-names); '' unknown"),
    Column("object", "U48", "", "OBJECT keyword as written in the file"),
    Column("product", "U8", "", "product type: image, cube, spectra or table"),
    Column("role", "U8", "", "product, or noise for an uncertainty companion of a product"),
    Column("tracer", "U24", "", "canonical tracer (sfng tracers vocabulary); '' when unknown"),
    Column("tracer_src", "U12", "", "how the tracer was found: maptype, restfrq, instrument, filter, "
                                    "plugin; '' when unknown"),
    Column("telescop", "U24", "", "TELESCOP keyword"),
    Column("instrume", "U24", "", "INSTRUME keyword"),
    Column("bunit", "U32", "", "BUNIT: brightness unit of the data"),
    Column("hdu", "i2", "", "HDU number described by the row (0 = primary)"),
    Column("naxis", "i2", "", "NAXIS: number of data axes"),
    *[Column(f"naxis{n}", "i4", "", f"NAXIS{n}: pixels along axis {n} (-1 when absent)")
      for n in range(1, 5)],
    *_axes("ctype", "U16", "", "type"),
    *_axes("cunit", "U12", "", "unit"),
    *[Column(f"cdelt{n}", "f8", "", f"pixel step of axis {n} in CUNIT{n}: CDELT{n}, or the CD/PC "
                                     f"matrix diagonal element when that is how the file gives it")
      for n in range(1, 5)],
    *_axes("crval", "f8", "", "reference value"),
    Column("ra", "f8", "deg", "right ascension (ICRS) of the field centre (the central pixel), "
                              "converted from the file's frame; FK5 J2000 is taken as ICRS"),
    Column("dec", "f8", "deg", "declination (ICRS) of the field centre"),
    Column("frame", "U24", "", "celestial frame of the file's WCS before conversion to ICRS: icrs, "
                               "fk5 J2000, fk5 J1975, fk4 B1950, fk4-no-e B1950, galactic, "
                               "ecliptic J2000, supergalactic ('' no celestial WCS); ra, dec and "
                               "foot_ra/foot_dec are always ICRS"),
    Column("foot_n", "i2", "", f"number of valid footprint vertices (0..{FOOT_MAX}; 0 with flag "
                               f"{FLAG_WIDE} or {FLAG_NO_SIZE}: no polygon)"),
    Column("foot_ra", "f8", "deg", "footprint polygon vertices, RA (ICRS; great-circle edges; "
                                   "unused entries NaN)", (FOOT_MAX,)),
    Column("foot_dec", "f8", "deg", "footprint polygon vertices, Dec (ICRS; unused entries NaN)",
           (FOOT_MAX,)),
    Column("fov", "f4", "arcmin", "field size: twice the largest distance from ra/dec to the "
                                  "footprint, so every point of it lies within fov/2 of ra/dec "
                                  "(21600 for the whole sky)"),
    Column("bmaj", "f4", "arcsec", "beam major axis FWHM"),
    Column("bmin", "f4", "arcsec", "beam minor axis FWHM"),
    Column("bpa", "f4", "deg", "beam position angle, east of north"),
    Column("beam_src", "U8", "", "where the beam came from: file, readme, history (AIPS card), "
                                 "table (the per-channel BEAMS table of a CASA cube: its beam of "
                                 "largest major axis), plugin; suspect when the header beam is "
                                 "implausible"),
    Column("res", "f4", "arcsec", "angular resolution: the beam major axis FWHM (per-channel beams: "
                                  "the largest, the cube's worst resolution)"),
    Column("bmaj_min", "f4", "arcsec", "smallest beam major axis FWHM over the channels (BEAMS "
                                       "table); equals bmaj for a single beam"),
    Column("bmaj_max", "f4", "arcsec", "largest beam major axis FWHM over the channels (BEAMS "
                                       "table; = res); equals bmaj for a single beam"),
    Column("restfrq", "f8", "Hz", "rest frequency of the line (RESTFRQ/RESTFREQ)"),
    Column("spec_type", "U12", "", "spectral axis type: FREQ, VRAD, VOPT, VELO, WAVE, ... ('' none)"),
    Column("chan_kms", "f4", "km/s", "native channel width (absolute) as a velocity"),
    Column("spec_min", "f8", "", "spectral coverage: smallest value along the spectral axis, in spec_unit"),
    Column("spec_max", "f8", "", "spectral coverage: largest value along the spectral axis, in spec_unit"),
    Column("spec_unit", "U12", "", "unit of spec_min/spec_max"),
    Column("specres", "f8", "", "SPECRES: spectral resolution in the units of the spectral axis"),
    Column("repunc", "f8", "", "REPUNC: representative 1-sigma uncertainty in BUNIT"),
    Column("rms_k", "f4", "K", "rms noise in K in the native channel (depth at any width dv: "
                               "rms_k*sqrt(chan_kms/dv))"),
    Column("depth_k", "f4", "K", "rms noise in K in a 1 km/s channel: rms_k*sqrt(chan_kms)"),
    Column("depth_src", "U12", "", "where rms_k came from: repunc, noise (companion map), measured; '' unknown"),
    Column("noise_path", "U240", "", "for a product: path of its noise/error companion; for a "
                                     "companion: path of its product"),
    Column("date_obs", "U23", "", "start of the observation, ISO 8601 in UTC (from MJD-OBS, else "
                                  "DATE-OBS, in the time scale TIMESYS, UTC when absent; the README "
                                  "may give them); '' unknown"),
    Column("mjd_obs", "f8", "d", "start of the observation, MJD in UTC (MJD-OBS, else DATE-OBS; "
                                 "converted from TIMESYS, UTC when absent)"),
    Column("mjd_end", "f8", "d", "end of the observation, MJD in UTC (MJD-END, else DATE-END; "
                                 "converted from TIMESYS, UTC when absent); NaN unknown"),
    Column("exptime", "f8", "s", "exposure time (EXPTIME, else XPOSURE)"),
    Column("derived_from", "U480", "", "for a derived product (sfng derive): its inputs' store paths, "
                                       "';'-separated; '' for original data"),
    Column("prov", "U240", "", "for a derived product: store path of its provenance record (JSON)"),
    Column("size", "i8", "byte", "file size"),
    Column("mtime", "f8", "s", "file modification time, seconds since 1970-01-01 UTC"),
    Column("sha256", "U64", "", "SHA-256 of the file from the survey's MANIFEST.sha256 ('' if not listed)"),
    Column("valid", "?", "", "true when validation found no error (see n_problems)"),
    Column("n_problems", "i2", "", "number of validation problems of any level (-1: not validated)"),
    Column("from_readme", "U96", "", "keywords taken from the survey README, comma-separated"),
    Column("flag", "i2", "", "bit flags: " + "; ".join(f"{b} {d}" for b, d in FLAGS.items())),
    Column("error", "U120", "", "why the row is flagged (first problem met), '' when clean"),
    Column("extra", "U160", "", "product-specific values as KEY=VALUE;KEY=VALUE (e.g. MaNGA plateifu)"),
]

#: IVOA UCD1+ words of the FILES columns that have one (the VOTable and FITS outputs of
#: ``sfng find`` carry them; every one is checked against astropy's controlled vocabulary).
#: Columns without a fitting word have none, rather than a loose one.
UCDS: dict[str, str] = {
    "path": "meta.ref.url", "survey": "meta.dataset", "galaxy": "meta.id", "object": "meta.id",
    "product": "meta.code.class", "tracer": "meta.code", "telescop": "instr.tel", "instrume": "instr",
    "bunit": "meta.unit", "ra": "pos.eq.ra;meta.main", "dec": "pos.eq.dec;meta.main", "fov": "phys.angSize",
    "bmaj": "phys.angSize;instr.beam", "bmin": "phys.angSize;instr.beam", "bpa": "pos.posAng;instr.beam",
    "res": "phys.angSize;instr.beam", "bmaj_min": "phys.angSize;instr.beam", "bmaj_max": "phys.angSize;instr.beam",
    "restfrq": "em.freq", "chan_kms": "spect.resolution", "specres": "spect.resolution",
    "depth_k": "instr.sensitivity", "rms_k": "instr.sensitivity", "date_obs": "time.start",
    "mjd_obs": "time.start", "mjd_end": "time.end", "exptime": "time.duration;obs.exposure",
    "size": "phys.size;meta.file", "sha256": "meta.checksum", "flag": "meta.code.qual",
    "dist": "pos.distance", "error": "meta.note",
}

GALAXIES_COLUMNS: list[Column] = [
    Column("name", "U48", "", "NED preferred name (as files in the store are named)"),
    Column("aliases", "U160", "", "other names, separated by ';'"),
    Column("ra", "f8", "deg", "right ascension (J2000)"),
    Column("dec", "f8", "deg", "declination (J2000)"),
    Column("dist", "f4", "Mpc", "adopted distance"),
    Column("dist_src", "U64", "", "source of the distance (reference)"),
    Column("n_files", "i4", "", "number of FILES rows on this galaxy"),
]

FILES_NAMES = [c.name for c in FILES_COLUMNS]
GALAXIES_NAMES = [c.name for c in GALAXIES_COLUMNS]


def column(name: str, table: str = FILES_HDU) -> Column:
    cols = FILES_COLUMNS if table == FILES_HDU else GALAXIES_COLUMNS
    for c in cols:
        if c.name == name:
            return c
    raise KeyError(name)


#: Columns whose value in a fresh row is not the unknown: a row is its survey's current version
#: until the builder says otherwise (docs/versions.md), so an index written without versions
#: (an older one migrated, a writer that does not know them) answers as before.
DEFAULTS = {"current": True}


def null_row(columns=None) -> dict:
    """A row of unknowns (a fresh dict; array cells are shared empty tuples)."""
    if columns is None:
        return dict(_NULL_FILES)
    return {c.name: () if c.shape else DEFAULTS.get(c.name, c.null) for c in columns}


_NULL_FILES = {c.name: () if c.shape else DEFAULTS.get(c.name, c.null) for c in FILES_COLUMNS}

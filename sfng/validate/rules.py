"""The validation rules, declared once: code, tests and ``docs/validation.md`` all read this list.

Each rule names the item of the specification's "Minimum file specifications" it enforces
(1-3 are the minimum rules: a violation is an ``error`` and keeps a file out of ``data/``;
4-9 are desiderata: ``warning``).  A few rules check the survey README section and habits the
collaboration's IDL checker looked for; they are warnings or ``info`` notices.  ``message`` is a
``str.format`` template filled by the check with the details it found; ``hint`` says how to fix,
and ``fix`` names what ``sfng fix`` does about it ("" when a person has to).
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
LEVELS = (ERROR, WARNING, INFO)


@dataclass(frozen=True)
class Rule:
    """One rule.

    Attributes
    ----------
    id : str
        Stable identifier (used in reports, JSON output and ``--only``/``--skip``).
    level : str
        ``error``, ``warning`` or ``info``.
    spec : str
        Which item of the specification it enforces ("1".."9", "README", or "habit").
    title : str
        One line: what is checked.
    message : str
        ``str.format`` template of the problem text.
    hint : str
        How to fix it.
    fix : str
        What ``sfng fix`` does about it; "" when it cannot.
    deep : bool
        Only checked with ``--deep`` (reads the data).
    """

    id: str
    level: str
    spec: str
    title: str
    message: str
    hint: str
    fix: str = ""
    deep: bool = False


RULES: list[Rule] = [
    # --- 2. FITS files, readable ------------------------------------------------------------
    Rule("file-unreadable", ERROR, "2", "the file can be opened and read",
         "cannot read the file: {reason}",
         "check the file's permissions (chmod a+r) and that the disk is healthy"),
    Rule("file-empty", ERROR, "2", "the file is not empty",
         "zero-byte file",
         "copy the file again from its source; an interrupted transfer leaves empty files"),
    Rule("not-fits", ERROR, "2", "a file named as FITS is FITS",
         "not a FITS file despite its name: {reason}",
         "check what the file really is (`file NAME`); convert it to FITS or remove it from data/"),
    Rule("header-no-end", ERROR, "2", "the FITS header ends with an END card",
         "{reason}",
         "the header is cut short: copy the file again from its source"),
    Rule("file-truncated", ERROR, "2", "the file holds all the data its NAXISn promise",
         "{reason}",
         "the file is shorter than its header says: copy it again from its source"),
    Rule("naxis-absurd", ERROR, "2", "BITPIX and NAXIS/NAXISn are legal and sane",
         "{reason}",
         "the header's sizing keywords are corrupt; obtain a good copy of the file"),
    Rule("no-data", ERROR, "2", "the file holds an image, cube or table",
         "no HDU holds data (every HDU has NAXIS = 0)",
         "data/ holds images, cubes and spectra; a header-only file belongs elsewhere"),
    Rule("header-illegal-cards", WARNING, "2", "every header card follows the FITS standard",
         "{count} illegal header card(s), e.g. {example}",
         "astropy reads past them, other readers may not; rewrite the header with "
         "`astropy.io.fits` (output_verify='fix')"),
    Rule("not-fits-format", WARNING, "2", "files in data/ and derived/ are FITS",
         "not a FITS file ({suffix}): the specification strongly prefers FITS",
         "convert to FITS if possible, or explain the format in the survey README"),
    # --- 1. sky units --------------------------------------------------------------------
    Rule("bunit-unparseable", ERROR, "1", "BUNIT is a unit astropy.units can read",
         "BUNIT = {bunit!r} is not a unit astropy can read, so the calibration cannot be checked",
         "write BUNIT in a standard spelling, e.g. K, Jy/beam, MJy/sr, erg/s/cm2/Angstrom/arcsec2"),
    Rule("bunit-not-sky", ERROR, "1", "data are calibrated in sky units",
         "BUNIT = {bunit!r} ({what}) is not a calibrated sky unit",
         "data/ holds calibrated data in sky units (K, Jy/beam, MJy/sr, Jy/pixel, W/m2, ...); "
         "uncalibrated data belong in uncalibrated/"),
    # --- 3. WCS ------------------------------------------------------------------------------
    Rule("wcs-unreadable", ERROR, "3", "astropy.wcs reads the WCS",
         "astropy.wcs cannot use the WCS: {reason}",
         "correct the offending keyword named in the message; `sfng fix` repairs unit spellings "
         "such as CUNIT3 = 'M/S'",
         fix="normalises CUNITn spellings (M/S -> m/s, HZ -> Hz, KM/S -> km/s)"),
    Rule("wcs-singular", ERROR, "3", "no degenerate axis makes the WCS matrix singular",
         "the WCS matrix is singular: {reason}",
         "a degenerate (length-1) axis such as STOKES needs a non-zero CDELTn (1.0 by convention)",
         fix="sets CDELTn = 1 on degenerate axes (or drops a trailing Stokes axis with --drop-stokes)"),
    Rule("wcs-celestial", ERROR, "3", "the image has a celestial axis pair with a projection",
         "no celestial axis pair: {reason}",
         "give the two sky axes CTYPE1/CTYPE2 such as RA---SIN/DEC--SIN, with CRVALn, CRPIXn and "
         "CDELTn (or CD/PC)"),
    Rule("wcs-idl-axes", ERROR, "3", "the celestial axes are axes 1 and 2 (IDL astrolib)",
         "the celestial axes are {axes}; IDL astrolib (extast) reads the sky WCS from axes 1 and 2",
         "reorder the axes so that longitude and latitude come first (e.g. with spectral-cube)"),
    Rule("pixel-scale", ERROR, "3", "the pixel scale is given by CDELTn, CDi_j or PCi_j",
         "no pixel scale for axis {axis} ({ctype}): {reason}",
         "give CDELT1/CDELT2 in degrees (or a CD matrix)"),
    Rule("pixel-nonsquare", WARNING, "3", "pixels are square (the IDL checker's habit)",
         "pixels are not square: {dx:.4g} x {dy:.4g} arcsec",
         "regrid to square pixels if the data will be convolved or compared pixel by pixel"),
    Rule("wcs-frame", INFO, "3", "which celestial frame the WCS is in (the index converts to ICRS)",
         "the celestial axes are in {frame}: the index converts the centre and footprint to ICRS",
         "nothing to do; give RADESYS and EQUINOX explicitly if the frame is not what you meant "
         "(EQUINOX < 1984 alone means FK4 B1950)"),
    Rule("wcs-frame-unknown", WARNING, "3", "the celestial frame can be converted to ICRS",
         "no conversion to ICRS: {reason}; the index holds no position or footprint for this file",
         "give the sky axes in an equatorial (RADESYS ICRS, FK5 or FK4), galactic, ecliptic or "
         "supergalactic frame"),
    # --- 4. BUNIT ----------------------------------------------------------------------------
    Rule("bunit-missing", WARNING, "4", "BUNIT gives the unit of the data",
         "no BUNIT in the file or the survey README",
         "add `BUNIT = K` (or the right unit) to the survey README header, or to the file",
         fix="writes README-only keys into the header"),
    # --- 5. beam -----------------------------------------------------------------------------
    Rule("beam-missing", WARNING, "5", "BMAJ, BMIN and BPA give the resolution",
         "no beam: BMAJ is in neither the file, its HISTORY nor the survey README",
         "add BMAJ/BMIN (FWHM, degrees) and BPA (degrees east of north) to the survey README"),
    Rule("beam-aips-history", WARNING, "5", "the beam is in BMAJ/BMIN/BPA, not only in HISTORY",
         "the beam is only in a HISTORY card: {card}",
         "copy it into BMAJ, BMIN, BPA",
         fix="copies BMAJ/BMIN/BPA from the AIPS CLEAN HISTORY card"),
    Rule("beam-incomplete", WARNING, "5", "BMIN and BPA accompany BMAJ",
         "BMAJ is given but not {missing}",
         "add the missing keys; a round beam has BMIN = BMAJ and BPA = 0",
         fix="sets BMIN = BMAJ and BPA = 0"),
    Rule("beam-implausible", WARNING, "5", "the beam is plausible (BMAJ >= BMIN > 0, in degrees)",
         "implausible beam: {reason}",
         "BMAJ/BMIN are FWHM in degrees (15 arcsec = 4.1667e-3)"),
    Rule("beam-table-unreadable", WARNING, "5", "a CASA cube's BEAMS table (CASAMBM = T) can be read",
         "{reason}: the per-channel beams are unknown",
         "export the cube again (CASA exportfits writes BEAMS with BMAJ/BMIN in arcsec, BPA in deg, "
         "CHAN, POL and NCHAN/NPOL), or remove CASAMBM and give BMAJ/BMIN/BPA"),
    Rule("beam-table-mismatch", WARNING, "5",
         "BMAJ/BMIN agree (1%) with the BEAMS table's beam of largest major axis",
         "the header beam {hmaj:.4g}\" x {hmin:.4g}\" ({where}) differs by {diff:.1%} from the BEAMS "
         "table's largest beam {tmaj:.4g}\" x {tmin:.4g}\" (channel {chan}), which the index uses",
         "header-only readers take BMAJ/BMIN: set them to the table's largest beam (or the common "
         "beam), or remove them"),
    # --- 6. rest frequency -------------------------------------------------------------------
    Rule("restfrq-missing", WARNING, "6", "spectral line data give RESTFRQ (Hz)",
         "spectral line data without a rest frequency (RESTFRQ, RESTFREQ or RESTWAV)",
         "add RESTFRQ in Hz, e.g. `RESTFRQ = 1.15271202e11` for CO(1-0), to the README or file"),
    Rule("restfrq-keyword", WARNING, "6", "the rest frequency keyword is RESTFRQ",
         "the rest frequency is spelled RESTFREQ (the AIPS keyword) rather than RESTFRQ",
         "rename RESTFREQ to RESTFRQ",
         fix="renames RESTFREQ to RESTFRQ"),
    Rule("restfrq-implausible", WARNING, "6", "RESTFRQ is in Hz",
         "{key} = {value:g} is not a frequency in Hz (below 1 MHz)",
         "RESTFRQ is in Hz: 115.2712 GHz is 1.152712e11"),
    # --- 7. spectral resolution --------------------------------------------------------------
    Rule("specres-missing", WARNING, "7", "spectral line data give SPECRES",
         "spectral line data without SPECRES (spectral resolution in units of the spectral axis)",
         "add SPECRES to the survey README (e.g. `SPECRES = 5000.0` for 5 km/s in m/s units)"),
    # --- 8. spectra --------------------------------------------------------------------------
    Rule("spectrum-as-image", WARNING, "8", "spectra are BINTABLEs grouped by galaxy",
         "a single spectrum stored as a {naxis}-axis image",
         "group the galaxy's spectra in one FITS BINTABLE with a row per spectrum and its RA/Dec"),
    Rule("spectra-positions", WARNING, "8", "each spectrum in a BINTABLE has a position",
         "BINTABLE of spectra without per-spectrum position columns (RA/DEC): {columns}",
         "add RA and DEC columns (degrees) giving each spectrum's position"),
    # --- 9. axis units -----------------------------------------------------------------------
    Rule("cunit-missing", WARNING, "9", "CUNITn gives the unit of every axis",
         "no CUNITn for axis {axes} (FITS defaults assumed: {defaults})",
         "add CUNITn (deg for sky axes, Hz or m/s for the spectral axis)",
         fix="writes the FITS default units explicitly"),
    Rule("spectral-type", WARNING, "3", "the spectral axis type is a known convention",
         "{reason}",
         "use a FITS spectral type: FREQ, VRAD, VOPT, VELO, WAVE, AWAV (or AIPS VELO-LSR, FELO-HEL)"),
    Rule("spectral-unit", WARNING, "9", "CUNITn of the spectral axis suits its type",
         "{reason}",
         "CUNITn must be a unit of the axis type: Hz for FREQ, m/s or km/s for velocities, m for WAVE"),
    Rule("velocity-scale", WARNING, "9", "velocity axis values match their unit (m/s vs km/s)",
         "axis {axis} ({ctype}): CDELT{axis} = {cdelt:g} {unit} {why}",
         "state the unit with CUNITn = 'km/s', or rescale CRVAL/CDELT to m/s",
         fix="writes CUNITn = 'km/s' when the numbers are km/s"),
    # --- the survey README -------------------------------------------------------------------
    Rule("readme-missing", WARNING, "README", "the survey folder has <SURVEY>_README.txt",
         "no {expected} in the survey folder",
         "write one with `sfng readme new SURVEY`"),
    Rule("readme-invalid", WARNING, "README", "the survey README's metadata block can be read",
         "the survey README's metadata cannot be read: {reason}",
         "fix the line named in the message (KEYWORD = VALUE before a '---' line)"),
    Rule("readme-keys", INFO, "README", "which keys come from the survey README",
         "{keys} come from the survey README, not the file",
         "allowed by the specification; `sfng fix` can write them into the file",
         fix="writes README-only keys into the header"),
    # --- --deep: the data --------------------------------------------------------------------
    Rule("data-blank", ERROR, "1", "the data are not all blank",
         "every pixel is NaN or zero",
         "the file holds no science data; re-obtain it", deep=True),
    Rule("data-mostly-blank", WARNING, "habit", "most pixels hold data",
         "{fraction:.0%} of the pixels are NaN or blank",
         "expected for masked products; otherwise check the file", deep=True),
    Rule("data-blank-planes", WARNING, "habit", "no cube plane is entirely blank",
         "{count} of {nplanes} planes are entirely NaN or zero (e.g. plane {first})",
         "trim blank channels, or say in the README why they are there", deep=True),
    Rule("repunc-mismatch", WARNING, "habit", "REPUNC agrees with the measured noise",
         "REPUNC = {repunc:.4g} but the measured rms (MAD) is {rms:.4g} {unit}",
         "check REPUNC (1 sigma per channel, in BUNIT)", deep=True),
]

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    return BY_ID[rule_id]


def markdown_table() -> str:
    """The rule list as a Markdown table (docs/validation.md includes it)."""
    lines = ["| rule | level | spec | checks | `sfng fix` |", "| --- | --- | --- | --- | --- |"]
    for r in RULES:
        title = r.title + (" (`--deep`)" if r.deep else "")
        lines.append(f"| `{r.id}` | {r.level} | {r.spec} | {title} | {r.fix or '-'} |")
    return "\n".join(lines) + "\n"

"""The validation hook: the minimum-rule check of a source file before it lands.
"""

from __future__ import annotations

from pathlib import Path


def _validator():
    """``sfng.validate.validate_file``, imported on first use (validation pulls in astropy.wcs);
    tests replace this seam with a fake."""
    from ..validate import validate_file

    return validate_file


def validation_hook(path: Path, readme_metadata=None, tree: str | None = None):
    """Minimum-rule check of one source file before it lands, through :mod:`sfng.validate`.

    Returns ``(errors, report dict)``: a file with errors goes to ``uncalibrated/<SURVEY>/`` with
    its report (``<file name>.validation.json``), unless ingest runs with ``force``.  The file is
    judged as it will be in the store: with ``readme_metadata``, the defaults of the README that
    will govern it (the store's, else the one being landed), and as bound for ``tree``.
    """
    report = _validator()(path, store=None, readme_metadata=dict(readme_metadata or {}), tree=tree)
    errors = [e if isinstance(e, str) else str(getattr(e, "message", e)) for e in report.errors]
    return errors, report.as_dict()


"""Community releases: immutable, verifiable bundles of store files under ``release/NAME/``.

A release holds the selected files laid out as in the store (``data/<SURVEY>/...``,
``derived/...``), their survey READMEs, its own ``SFNG-INDEX.fits`` covering exactly those
files (rows of the store index written through :class:`sfng.index.io.IndexWriter`),
``RELEASE.md`` (contents, citations, how it was made), ``RELEASE.json`` (the same, for
tools) and ``MANIFEST.sha256`` (``sha256sum -c`` format, every file but itself).

Crash safety: a release is built in ``release/.NAME.partial/`` holding an ``.INCOMPLETE``
sentinel, and renamed to ``release/NAME`` only when complete.  A half-made release is
therefore recognisable, never verifies, and rerunning the same command finishes it (or, if the
selection changed, removes it and starts again).  ``--tar`` adds ``release/NAME.tar.gz``
(byte-reproducible, see :mod:`sfng.tarball`) and ``release/NAME.tar.gz.sha256``.

Security: files are taken only from ``data/`` and ``derived/`` of the store; a symbolic link
whose target is outside the store, a ``..`` component, an absolute path or anything but a
regular file is refused.  :func:`verify` never follows links and never extracts a tarball.

Modules, each importing only those above it:

- :mod:`~sfng.release.layout`: the names of a release's own files, the release-name rule
  (:func:`check_name`), ``release/`` and the partial folder, the lock on ``release/``.
- :mod:`~sfng.release.sources`: which store files may be released (:func:`store_file`) and
  file lists naming them (:func:`read_file_list`).
- :mod:`~sfng.release.checksums`: a release's ``MANIFEST.sha256`` (:func:`parse_manifest`,
  :func:`read_manifest`) and the changes between two.
- :mod:`~sfng.release.plan`: :func:`plan_bundle` (a :class:`BundlePlan` of :class:`PlanFile`\\ s),
  :func:`default_command`; writes nothing.
- :mod:`~sfng.release.documents`: ``RELEASE.md`` (:func:`render_notes`) and ``RELEASE.json``.
- :mod:`~sfng.release.tarballs`: ``release/NAME.tar.gz`` (:func:`make_tarball`).
- :mod:`~sfng.release.writing`: :func:`bundle` (a :class:`BundleResult`), :func:`copy_file`.
- :mod:`~sfng.release.verification`: :func:`verify` (a :class:`VerifyReport`).
- :mod:`~sfng.release.listing`: :func:`list_releases` (:class:`ReleaseInfo`), :func:`diff`,
  :func:`clean`.
"""

from .checksums import parse_manifest, read_manifest
from .documents import render_notes
from .layout import (
    CHUNK,
    INDEX,
    MANIFEST,
    NAME_RE,
    NOTES,
    OWN_FILES,
    PARTIAL_SUFFIX,
    RECORD,
    RELEASE_TREES,
    SENTINEL,
    check_name,
    release_dir,
)
from .listing import ReleaseInfo, clean, diff, list_releases
from .plan import BundlePlan, PlanFile, default_command, plan_bundle
from .sources import read_file_list, store_file
from .tarballs import make_tarball
from .verification import VerifyReport, verify
from .writing import BundleResult, bundle, copy_file

__all__ = [
    "CHUNK", "INDEX", "MANIFEST", "NAME_RE", "NOTES", "OWN_FILES", "PARTIAL_SUFFIX", "RECORD",
    "RELEASE_TREES", "SENTINEL",
    "BundlePlan", "BundleResult", "PlanFile", "ReleaseInfo", "VerifyReport",
    "bundle", "check_name", "clean", "copy_file", "default_command", "diff", "list_releases",
    "make_tarball", "parse_manifest", "plan_bundle", "read_file_list", "read_manifest",
    "release_dir", "render_notes", "store_file", "verify",
]

"""Names and places of a release: the files a release makes about itself, the release-name rule,
``release/`` and the partial folder a release is built in, the lock on ``release/``, and
:func:`text_value` for the text of index rows."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SfngError

MANIFEST = "MANIFEST.sha256"
#: The name ending of a derived product's provenance record, released beside it: that of
#: ``sfng.derive.provenance.SIDECAR_SUFFIX`` (the upper layer; importing it from there would load
#: sfng.derive into every release command; tests/test_ml_hdf5.py keeps the two equal).
PROV_SUFFIX = ".prov.json"
NOTES = "RELEASE.md"
RECORD = "RELEASE.json"
INDEX = "SFNG-INDEX.fits"
SENTINEL = ".INCOMPLETE"
PARTIAL_SUFFIX = ".partial"
#: Files a release makes about itself (not part of "what changed" between releases).
OWN_FILES = (MANIFEST, NOTES, RECORD, INDEX)
RELEASE_TREES = ("data", "derived")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
#: Block size for copying and hashing released files.
CHUNK = 1024 * 1024


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable release name, else raise SfngError."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name.endswith(PARTIAL_SUFFIX) \
            or name.endswith((".tar.gz", ".tgz", ".sha256")) or ".." in name:
        raise SfngError(f"bad release name {name!r}: use letters, digits and . _ + - (starting with a "
                        f"letter or digit, at most 100 characters, not ending in .partial/.tar.gz)")
    return name


def release_dir(store) -> Path:
    """The store's ``release/`` folder."""
    return store.tree("release")


def partial_dir(store, name) -> Path:
    """``release/.NAME.partial``, where the release ``name`` is built."""
    return release_dir(store) / f".{name}{PARTIAL_SUFFIX}"


class ReleaseLock:
    """An exclusive lock on ``release/`` for one bundle at a time: the store's one lock
    (:class:`sfng.journal.Lock`, ``.sfng/locks/release.lock``), released when the process dies, so
    a kill -9 leaves no stale lock."""

    def __init__(self, folder: Path):
        from ..journal import Lock

        self.folder = Path(folder)
        self._lock = Lock(self.folder.parent / ".sfng" / "locks" / "release.lock", f"{self.folder}")

    def __enter__(self):
        try:
            self._lock.__enter__()
        except SfngError as exc:
            if "is locked by" not in str(exc):
                raise
            raise SfngError(f"{self.folder}: another `sfng release` is writing here; wait for it to "
                            f"finish") from None
        return self

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)


def journal_path(store, name: str) -> Path:
    """``.sfng/journal/release-NAME.jsonl``: the journal of a bundle of ``name`` (not created here)."""
    return Path(store.root) / ".sfng" / "journal" / f"release-{name}.jsonl"


def text_value(v) -> str:
    """A text value of an index row (bytes or str) as str without surrounding blanks."""
    return v.decode("utf-8", "surrogateescape").strip() if isinstance(v, bytes) else str(v).strip()

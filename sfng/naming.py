"""File-name convention of the store: ``<NED_NAME>.<original file name>``.

(Extended by the names/ingest work; :func:`check_component` guards every path component sfng
builds from user or NED input.)
"""

from __future__ import annotations

from .errors import SfngError


def check_component(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a safe single path component, else raise SfngError.

    Refuses empty names, ``.`` and ``..``, path separators, NUL, and a leading ``-`` (which a
    shell tool would read as an option).
    """
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or "\x00" in name or name.startswith("-"):
        raise SfngError(f"unsafe {what} {name!r}: it must be one path component without '/', '..' "
                        f"or a leading '-'")
    return name

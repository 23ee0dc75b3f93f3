"""A release's ``MANIFEST.sha256`` (``sha256sum -c`` format): parsing, reading, and comparing two
(what was added, removed and changed).  Not :mod:`sfng.manifest`, the store's survey manifests."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SfngError
from ..tarball import unsafe_reason
from .layout import OWN_FILES


def parse_manifest(text: str, where="MANIFEST.sha256") -> tuple[dict, list]:
    """``sha256sum`` lines -> ({path: sha256}, [problems]).  Unsafe paths are problems, not entries."""
    entries, problems = {}, []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = re.match(r"^([0-9a-fA-F]{64}) [ *](.+)$", line)
        if not m:
            problems.append(f"{where}:{i}: not a 'SHA256  PATH' line: {line[:80]!r}")
            continue
        path = m[2]
        why = unsafe_reason(path)
        if why:
            problems.append(f"{where}:{i}: unsafe path {path!r}: {why}")
            continue
        if path in entries:
            problems.append(f"{where}:{i}: {path} listed twice")
        entries[path] = m[1].lower()
    return entries, problems


def read_manifest(path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SfngError(f"{path}: cannot read the manifest: {exc}") from exc
    return parse_manifest(text, str(path))[0]


def compare_manifests(a: dict, b: dict, unknown_ok=False) -> dict:
    """Added/removed/changed paths from manifest ``a`` to ``b`` (release bookkeeping files ignored)."""
    a = {k: v for k, v in a.items() if k not in OWN_FILES}
    b = {k: v for k, v in b.items() if k not in OWN_FILES}
    changed = sorted(p for p in set(a) & set(b)
                     if a[p] != b[p] and not (unknown_ok and (a[p] is None or b[p] is None)))
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed}

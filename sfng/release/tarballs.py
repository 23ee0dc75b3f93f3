"""``release/NAME.tar.gz`` and its ``.sha256``: written while bundling (:func:`tar_partial`, then
:func:`publish_tar`) or later for a complete release (:func:`make_tarball`).  The bytes are
:mod:`sfng.tarball`'s (reproducible)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from ..errors import SfngError
from ..fsutil import TMP_PREFIX
from .documents import read_record, utc_now
from .layout import SENTINEL, check_name, release_dir
from .plan import BundlePlan


def tmp_tar(rdir: Path, name: str) -> Path:
    """The temporary name the tarball of release ``name`` is written under (the release lock makes
    it one writer's at a time)."""
    return rdir / f"{TMP_PREFIX}{name}.tar.gz"


def tar_partial(part: Path, plan: BundlePlan, created: str) -> str:
    """Write the tarball of the partial release ``part`` under a temporary name; its SHA-256."""
    from ..fsutil import fault_point
    from ..tarball import write_tarball

    tmp = tmp_tar(part.parent, plan.name)
    tmp.unlink(missing_ok=True)
    mtime = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    digest = write_tarball(part, tmp, plan.name, mtime=mtime, exclude=(SENTINEL,))
    fault_point(f"release {plan.name}: tarball written")
    return digest


def remove_tmp_tar(rdir: Path, name: str) -> None:
    """Remove the temporary tarball an interrupted bundle may have left."""
    tmp_tar(rdir, name).unlink(missing_ok=True)


def publish_tar(rdir: Path, name: str, digest: str) -> Path:
    """Rename the temporary tarball (read-only) to ``release/NAME.tar.gz``, then write its
    ``.sha256``; an interrupted publication is finished (the sidecar written afterwards)."""
    from ..fsutil import atomic_write_text, fault_point, fsync_dir, make_read_only, sha256_file

    tmp = tmp_tar(rdir, name)
    out = rdir / f"{name}.tar.gz"
    side = rdir / f"{name}.tar.gz.sha256"
    if os.path.lexists(out):
        if os.path.lexists(side) or not out.is_file() or sha256_file(out) != digest:
            raise SfngError(f"{out} exists; releases are immutable")
        tmp.unlink(missing_ok=True)  # the same bytes are already published
    else:
        make_read_only(tmp)
        os.rename(tmp, out)
        fsync_dir(rdir)
        fault_point(f"release {name}: tarball renamed")
    atomic_write_text(side, f"{digest}  {name}.tar.gz\n", read_only=True)
    return out


def make_tarball(store, name: str) -> tuple[Path, str]:
    """Write ``release/NAME.tar.gz`` (and its ``.sha256``) for the complete release ``NAME``.

    The tarball is reproducible: the same release always gives the same bytes (member mtime is
    the release's creation time).
    """
    from ..tarball import write_tarball

    check_name(name)
    rdir = release_dir(store)
    folder = rdir / name
    if not folder.is_dir() or folder.is_symlink():
        raise SfngError(f"release/{name}: no such release")
    out = rdir / f"{name}.tar.gz"
    if os.path.lexists(out):
        raise SfngError(f"{out} exists; releases are immutable")
    rec = read_record(folder)
    created = rec.get("created") or utc_now()
    mtime = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    tmp = tmp_tar(rdir, name)
    try:
        digest = write_tarball(folder, tmp, name, mtime=mtime)
        return publish_tar(rdir, name, digest), digest
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""Ingest: bring a survey folder into the store under NED names, never losing or overwriting a file.

Two steps, both plain library calls (``sfng ingest`` only parses options and prints):

* :func:`plan_ingest` looks at every file of the source folder and decides, without writing
  anything, where it goes (``data/<SURVEY>/``, ``derived/<SURVEY>/``, ``uncalibrated/<SURVEY>/``
  for files failing a minimum rule, ``docs/<SURVEY>/`` and ``tables/<SURVEY>/`` for companion
  documents and tables), under which name (``<NED_NAME>.<original>`` with ``ned_rename``), how
  the galaxy was found, and what is wrong.  ``--dry-run`` prints this plan.
* :func:`execute` carries the plan out: each file is hashed while it is copied to a temporary
  name in its destination folder, fsynced, verified and renamed atomically (without ever
  replacing an existing file), then recorded with its SHA-256 and size in the folder's
  ``MANIFEST.sha256`` (:mod:`sfng.manifest`).  A journal (:mod:`sfng.journal`) announces every
  step, so that a rerun after kill -9 finishes or rolls back what was under way; ``move`` removes
  a source only once its copy is verified.

Modules: :mod:`.plan` (the plan and its items), :mod:`.sources` (naming each source's galaxy),
:mod:`.validation` (the validation hook), :mod:`.planner` (:func:`plan_ingest`),
:mod:`.landing` (:func:`execute`, :func:`recover`).  A product a registered format claims
(:mod:`sfng.formats`) is named and placed by its format.

Rerunning an ingest is safe: a target already holding the same bytes is skipped, a target
holding different bytes is a conflict that is reported and left alone.
"""

from __future__ import annotations

from .landing import Outcome, Report, execute, recover
from .plan import ACTIONS, MODES, QUARANTINE_TREE, TARGET_TREES, Item, Plan, classify
from .planner import plan_ingest
from .sources import BY_POSITION_RADIUS_ARCSEC
from .validation import validation_hook

__all__ = ["ACTIONS", "BY_POSITION_RADIUS_ARCSEC", "MODES", "QUARANTINE_TREE", "TARGET_TREES", "Item",
           "Outcome", "Plan", "Report", "classify", "execute", "ingest", "plan_ingest", "recover",
           "validation_hook"]


def ingest(store, src_dir, *, mode: str = "copy", jobs: int = 1, dry_run: bool = False,
           progress=None, **plan_options):
    """Plan and (unless ``dry_run``) execute; returns the :class:`Plan` or the :class:`Report`."""
    plan = plan_ingest(store, src_dir, **plan_options)
    if dry_run:
        return plan
    return execute(plan, mode=mode, jobs=jobs, progress=progress)


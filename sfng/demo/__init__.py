"""``sfng demo`` and every synthetic generator: a small, realistic store built offline, and the
main job walked end to end on it.

Fenced off from the library: only the CLI's ``demo`` command, the tests and the benchmarks import
this package; no library module does (``import-linter`` checks it).

Modules: :mod:`.galaxies` (the demo's real galaxies), :mod:`.surveys` (survey folders as
surveys publish them: THINGS, HERACLES, the Nobeyama CO atlas, BIMA SONG, PAWS, SINGS/KINGFISH,
an H-alpha survey), :mod:`.manga` (MaNGA cubes, DAP maps, GZ3D files and SAS mirrors from the
real DR17 headers), :mod:`.steps` (the main job on the demo store).
"""

from .galaxies import COMPANIONS, GALAXIES, DemoGalaxy, galaxy
from .steps import STEPS, clean, run_demo
from .surveys import DemoTree, make_surveys, surveys

__all__ = ["COMPANIONS", "GALAXIES", "STEPS", "DemoGalaxy", "DemoTree", "clean", "galaxy",
           "make_surveys", "run_demo", "surveys"]

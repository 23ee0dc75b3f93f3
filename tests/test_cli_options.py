"""The shared CLI options (sfng/cli/options.py): each declared once, spelled the same in every
command; old spellings still work for one release, with a deprecation note on stderr."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from _demo_store import demo_tree

from sfng.cli import main
from sfng.cli.options import JOBS_MAX, STORE_HELP, FormatChoice, JobsType, jobs_help

CLI_DIR = Path(__file__).resolve().parents[1] / "sfng" / "cli"

#: every command that writes its output to a path it is given -> the old spelling (None: none).
OUTPUT_COMMANDS = {
    "get": "--to",
    "fix": "--out",
    "export hdf5": "--out",
    "export moc": None,
    "ml labels": None,
    "ml train": None,
    "ml patches": None,
    "ml split": None,
    "ml evaluate": None,
    "compare": None,
    "index build": "--out",
    "index migrate": None,
    "site build": None,
    "summary": "--png",
    "find": None,
    "plot footprints": None,
    "plot coverage": None,
    "spec get": None,
    "spec preview": None,
}
JOBS_COMMANDS = {"index build": "one per CPU core", "fetch manga": "4", "ingest": "1", "derive convolve": "1",
                 "derive moments": "1", "derive jy2k": "1"}


def commands() -> dict[str, click.Command]:
    """Every leaf command by its name ("index build"), loaded as `sfng` loads them."""
    ctx = click.Context(main)
    found = {}

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(main, [])
    return found


def params(cmd, flag):
    return [p for p in cmd.params if isinstance(p, click.Option) and flag in (*p.opts, *p.secondary_opts)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_tree(tmp_path_factory)


@pytest.fixture
def indexed(store, cli):
    """An empty store with its (empty) index."""
    assert cli("index", "build", "--store", store.root).exit_code == 0
    return store


def deprecation(old, new):
    return f"{old} is deprecated; use {new}"


# -- declared once -----------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ['"--store"', '"--jobs"', '"--format"', '"--dry-run"', '"--output"',
                                  '"--to"', '"--out"', '"--png"', '"--mask-bits"'])
def test_shared_flags_are_declared_only_in_options_py(flag):
    where = [p.name for p in sorted(CLI_DIR.glob("*.py"))
             if p.name != "options.py" and re.search(rf"click\.option\([^)]*{flag}", p.read_text())]
    assert where == []


def test_store_is_one_definition_on_the_group_and_every_command():
    cmds = commands()
    with_store = {name: params(cmd, "--store") for name, cmd in cmds.items()}
    assert [n for n, ps in with_store.items() if len(ps) > 1] == []
    # every command that reads a store takes --store (init makes one, demo builds its own, the
    # `spec` commands are clients of a service, which has the store)
    assert sorted(n for n, ps in with_store.items() if not ps) == ["demo", "init", "spec get",
                                                                   "spec preview", "spec query"]
    for p in [*params(main, "--store"), *(ps[0] for ps in with_store.values() if ps)]:
        assert p.help == STORE_HELP and p.opts == ["--store"] and not p.secondary_opts
        assert isinstance(p.type, click.Path) and not p.type.file_okay and p.type.dir_okay


def test_jobs_is_one_definition():
    cmds = commands()
    have = {name for name, cmd in cmds.items() if params(cmd, "--jobs")}
    assert have == set(JOBS_COMMANDS)
    for name, default in JOBS_COMMANDS.items():
        (p,) = params(cmds[name], "--jobs")
        assert isinstance(p.type, JobsType) and sorted(p.opts) == ["--jobs", "-j"]
        assert p.name == "jobs" and p.metavar == "N"
        assert jobs_help(default) in p.help, p.help


def test_jobs_values(cli, indexed):
    t = JobsType()
    assert t.convert("3", None, None) == 3 and t.convert(JOBS_MAX, None, None) == JOBS_MAX
    for bad in ("-1", str(JOBS_MAX + 1), "two"):
        with pytest.raises(click.BadParameter):
            t.convert(bad, None, None)
    r = cli("index", "build", "--store", indexed.root, "-j", str(JOBS_MAX + 1))
    assert r.exit_code == 2 and "--jobs" in r.stderr
    r = cli("index", "build", "--store", indexed.root, "-j", "2", "--full")
    assert r.exit_code == 0 and "deprecated" not in r.stderr
    # index build's old "0 = one per core" still works, is the default now, and says so
    r = cli("index", "build", "--store", indexed.root, "--jobs", "0", "--full")
    assert r.exit_code == 0, r.output
    assert "--jobs 0 is deprecated; leave out --jobs for the default" in r.stderr


def test_dry_run_is_one_definition():
    for name, cmd in commands().items():
        for p in params(cmd, "--dry-run"):
            assert p.opts == ["--dry-run", "-n"] and p.is_flag, name
            assert p.help == "Show what would be done; change nothing."


def test_mask_bits_is_one_definition():
    """``--mask-bits`` (options.mask_bits_option): the same option on both ml commands, each
    naming its own SDSS bitmask; the default (DONOTUSE) leaves the results unchanged."""
    have = {name: params(cmd, "--mask-bits") for name, cmd in commands().items() if params(cmd, "--mask-bits")}
    assert set(have) == {"ml prepare", "ml labels"}
    for name, ps in have.items():
        (p,) = ps
        assert p.opts == ["--mask-bits"] and p.name == "mask_bits" and p.metavar == "NAMES", name
        assert p.default == "DONOTUSE" and p.show_default, name
    assert "MANGA_DRP3PIXMASK bits that reject data" in have["ml prepare"][0].help
    assert "MANGA_DAPPIXMASK bits that reject data" in have["ml labels"][0].help


# -- -o/--output -------------------------------------------------------------------------------------

def test_every_command_writing_output_takes_dash_o_output():
    cmds = commands()
    for name, cmd in cmds.items():
        outs = params(cmd, "--output")
        if name in OUTPUT_COMMANDS:
            assert len(outs) == 1, name
            assert outs[0].opts == ["-o", "--output"] and outs[0].help and not outs[0].hidden, name
        else:
            assert outs == [], name
        for old in ("--to", "--out", "--png"):
            aliases = params(cmd, old)
            if OUTPUT_COMMANDS.get(name) == old:
                assert len(aliases) == 1 and aliases[0].hidden, (name, old)
            elif (name, old) == ("derive convolve", "--to"):
                # the target resolution (issue 15's `--to 15arcsec`), not an output: options.target_option
                assert len(aliases) == 1 and not aliases[0].hidden and aliases[0].name == "to"
            else:
                assert aliases == [], (name, old)


def test_help_shows_only_the_new_spelling(cli):
    for name, old in OUTPUT_COMMANDS.items():
        text = cli(*name.split(), "--help").stdout
        assert "-o, --output" in text, name
        if old:
            assert not re.search(rf"^\s+{old}\b", text, re.MULTILINE), (name, old)


def test_get_output_and_its_old_spelling(cli, demo, tmp_path):
    s = ["--store", demo.store_dir, "--format", "json"]
    new = cli("get", "IC 342", "-o", tmp_path / "new", *s)
    assert new.exit_code == 0, new.output
    assert "deprecated" not in new.stderr
    old = cli("get", "IC 342", "--to", tmp_path / "old", *s)
    assert old.exit_code == 0, old.output
    assert [line for line in old.stderr.splitlines() if "deprecated" in line] == [
        "warning: --to is deprecated; use -o/--output (the old spelling goes in the next release)"]
    got = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
    assert got(tmp_path / "new") == got(tmp_path / "old") and got(tmp_path / "new")
    assert json.loads(new.stdout)["ok"] and json.loads(old.stdout)["ok"]
    # still required (either spelling); both at once is a usage error
    r = cli("get", "IC 342", *s)
    assert r.exit_code == 2 and "Missing option '-o' / '--output'" in r.stderr
    r = cli("get", "IC 342", "-o", tmp_path / "a", "--to", tmp_path / "b", *s)
    assert r.exit_code == 2 and "give -o/--output once" in r.stderr


def test_fix_output_and_its_old_spelling(cli, tmp_path, monkeypatch):
    from test_validate import good_header, write

    monkeypatch.chdir(tmp_path)
    src = write(tmp_path / "t.fits", good_header(RESTFRQ=None, RESTFREQ=1.420405752e9))
    for flag, folder in (("-o", "new"), ("--output", "long"), ("--out", "old")):
        r = cli("fix", src, flag, tmp_path / folder, "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)[0]["written"].endswith(f"{folder}/t.fits")
        assert (deprecation("--out", "-o/--output") in r.stderr) == (flag == "--out")


def test_index_build_output_and_its_old_spelling(cli, indexed, tmp_path):
    r = cli("index", "build", "--store", indexed.root, "-o", tmp_path / "a.fits")
    assert r.exit_code == 0 and (tmp_path / "a.fits").is_file() and "deprecated" not in r.stderr
    r = cli("index", "build", "--store", indexed.root, "--out", tmp_path / "b.fits")
    assert r.exit_code == 0 and (tmp_path / "b.fits").is_file()
    assert deprecation("--out", "-o/--output") in r.stderr


def test_export_output_and_its_old_spelling(cli, indexed, tmp_path):
    for flag in ("-o", "--out"):
        r = cli("export", "hdf5", "--store", indexed.root, "--dry-run", flag, tmp_path / "mmu")
        assert r.exit_code == 0, r.output
        assert f"under {tmp_path / 'mmu'}" in r.stdout
        assert (deprecation("--out", "-o/--output") in r.stderr) == (flag == "--out")


def test_summary_output(cli, demo, tmp_path):
    s = ["--store", demo.store_dir]
    csv = cli("summary", *s, "--format", "csv").stdout
    r = cli("summary", *s, "--format", "csv", "-o", tmp_path / "cov.csv")
    assert r.exit_code == 0 and r.stdout == "" and (tmp_path / "cov.csv").read_text() == csv
    text = cli("summary", *s).stdout
    r = cli("summary", *s, "--output", tmp_path / "cov.txt")
    assert r.exit_code == 0 and (tmp_path / "cov.txt").read_text() == text
    r = cli("summary", *s, "--format", "json", "-o", tmp_path / "cov.json")
    assert json.loads((tmp_path / "cov.json").read_text())["galaxies"]
    r = cli("summary", *s, "-o", tmp_path / "cov.csv")
    assert r.exit_code == 1 and "exists" in r.stderr          # sfng never overwrites


def test_summary_png_old_spelling(cli, demo, tmp_path):
    pytest.importorskip("matplotlib")
    s = ["--store", demo.store_dir]
    r = cli("summary", *s, "-o", tmp_path / "new.png")
    assert r.exit_code == 0 and (tmp_path / "new.png").read_bytes()[:4] == b"\x89PNG"
    assert r.stdout == cli("summary", *s).stdout              # the table still on stdout, as before
    r = cli("summary", *s, "--png", tmp_path / "old.png")
    assert r.exit_code == 0 and (tmp_path / "old.png").read_bytes()[:4] == b"\x89PNG"
    assert deprecation("--png", "-o/--output") in r.stderr


def test_find_output_in_every_format(cli, demo, tmp_path):
    s = ["--galaxy", "IC 342", "--store", demo.store_dir]
    for fmt in ("text", "paths", "csv", "json"):
        shown = cli("find", *s, "--format", fmt).stdout
        out = tmp_path / f"ic342.{fmt}"
        r = cli("find", *s, "--format", fmt, "-o", out)
        assert r.exit_code == 0 and r.stdout == "" and out.read_text() == shown, fmt
    r = cli("find", *s, "--count", "-o", tmp_path / "n.txt")
    assert int((tmp_path / "n.txt").read_text()) == len(cli("find", *s, "--format", "paths").stdout.split())


# -- --format ----------------------------------------------------------------------------------------

def test_text_is_the_human_format_everywhere():
    for name, cmd in commands().items():
        for p in params(cmd, "--format"):
            assert isinstance(p.type, FormatChoice), name
            assert "text" in p.type.choices and "table" not in p.type.choices, name
            assert p.default == "text", name


@pytest.mark.parametrize("command", [["find", "--galaxy", "IC 342"], ["summary"], ["info", "IC 342"],
                                     ["index", "stats"]])
def test_old_format_name_table_is_text(cli, demo, command):
    s = ["--store", demo.store_dir] if command[0] != "index" else ["--index", demo.store_dir / "SFNG-INDEX.fits"]
    text = cli(*command, *s, "--format", "text")
    old = cli(*command, *s, "--format", "table")
    assert text.exit_code == old.exit_code == 0, old.output
    assert old.stdout == text.stdout and text.stdout
    assert deprecation("--format table", "--format text") in old.stderr
    assert "deprecated" not in text.stderr
    shown = re.search(r"--format \[([^\]]*)\]", cli(*command, "--help").stdout).group(1)
    assert shown.split("|")[0] == "text" and "table" not in shown.split("|")


def test_unknown_format_still_refused(cli, indexed):
    r = cli("find", "--store", indexed.root, "--format", "tabel")
    assert r.exit_code == 2 and "text" in r.stderr


# -- -v/-q after the subcommand -----------------------------------------------------------------------

def test_quiet_and_verbose_after_the_subcommand(cli, indexed):
    s = ["--store", indexed.root]
    assert "no files match" in cli("find", *s).stderr
    assert cli("find", *s, "-q").stderr == ""
    assert cli("-q", "find", *s).stderr == ""
    assert cli("find", "--quiet", *s).stderr == ""
    for cmd in commands().values():
        assert params(cmd, "-v") and params(cmd, "-q")


def test_verbose_after_the_subcommand_adds_to_the_group(cli):
    from sfng.cli import output

    seen = {}

    @click.command()
    def probe():
        seen["level"] = output.verbosity()

    from sfng.cli.options import add_verbosity_options

    add_verbosity_options(probe)
    main.add_command(probe, "probe-verbosity")
    try:
        for args, level in ((["probe-verbosity"], 1), (["probe-verbosity", "-v"], 2),
                            (["-v", "probe-verbosity", "-v"], 3), (["probe-verbosity", "-q"], 0),
                            (["-q", "probe-verbosity"], 0)):
            assert cli(*args).exit_code == 0
            assert seen["level"] == level, args
    finally:
        main.commands.pop("probe-verbosity")

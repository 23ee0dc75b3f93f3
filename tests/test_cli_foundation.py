"""The CLI surface of the foundation: init, readme, global options, errors."""

import json

from sfng import __version__


def test_version_and_help(cli):
    assert __version__ in cli("--version").output
    out = cli("--help").output
    for cmd in ("init", "readme", "demo"):
        assert cmd in out


def test_init_and_readme_commands(cli, tmp_path, monkeypatch):
    r = cli("init", tmp_path / "s", "--name", "sfng")
    assert r.exit_code == 0 and "initialised" in r.output
    r = cli("init", tmp_path / "s")
    assert r.exit_code == 0 and "0 created" in r.output
    monkeypatch.chdir(tmp_path / "s")
    (tmp_path / "s" / "data" / "THINGS").mkdir()
    r = cli("readme", "new", "THINGS", "--set", "BUNIT=K", "--set", "BMAJ=4.1667e-3")
    assert r.exit_code == 0, r.output
    r = cli("readme", "show", "THINGS", "--format", "json")
    meta = json.loads(r.output)["metadata"]
    assert meta == {"BUNIT": "K", "BMAJ": 4.1667e-3}
    r = cli("readme", "new", "THINGS")
    assert r.exit_code == 1 and "exists" in r.output


def test_store_option_on_command_and_group(cli, tmp_path, monkeypatch):
    cli("init", tmp_path / "s")
    (tmp_path / "s" / "data" / "X").mkdir()
    (tmp_path / "s" / "data" / "X" / "X_README.txt").write_text("BUNIT = K\n---\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFNG_STORE", raising=False)
    assert "BUNIT" in cli("readme", "show", "X", "--store", tmp_path / "s").output
    assert "BUNIT" in cli("--store", tmp_path / "s", "readme", "show", "X").output


def test_not_in_store_is_a_clear_error(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFNG_STORE", raising=False)
    r = cli("readme", "show", "THINGS")
    assert r.exit_code == 1 and "not inside an sfng store" in r.output


def test_bad_readme_reported_with_line(cli, tmp_path):
    cli("init", tmp_path / "s")
    d = tmp_path / "s" / "data" / "HERACLES"
    d.mkdir()
    (d / "HERACLES_README.txt").write_text("BUNIT = K\nbmaj = 3\n---\n")
    r = cli("--store", tmp_path / "s", "readme", "show", "HERACLES")
    assert r.exit_code == 1 and "HERACLES_README.txt:2" in r.output and "upper case" in r.output


def test_init_on_file_is_clear(cli, tmp_path):
    (tmp_path / "f").write_text("x")
    r = cli("init", tmp_path / "f")
    assert r.exit_code == 1 and "is a file" in r.output


def test_every_command_offers_json_output_and_says_what_format_does():
    """House rule: --format json beside text, with help, on every command that prints a result
    (plots and the demo write files or a story instead)."""
    import click

    from sfng.cli import main

    ctx = click.Context(main)
    missing = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
            return
        if path[0] in ("plot", "demo"):
            return
        fmt = [p for p in cmd.params if p.name == "fmt"]
        if not fmt or "json" not in fmt[0].type.choices or not fmt[0].help:
            missing.append(" ".join(path))

    walk(main, [])
    assert missing == []


def test_readme_new_and_release_tar_clean_speak_json(store, cli, monkeypatch):
    import json

    monkeypatch.chdir(store.root)
    doc = json.loads(cli("readme", "new", "SURV", "--set", "BUNIT=K", "--dry-run", "--format", "json").output)
    assert doc["path"] == "data/SURV/SURV_README.txt" and doc["written"] is False
    assert "BUNIT" in doc["text"] and not (store.root / doc["path"]).exists()
    doc = json.loads(cli("readme", "new", "SURV", "--format", "json").output)
    assert doc["written"] is True and (store.root / doc["path"]).is_file()
    doc = json.loads(cli("release", "clean", "nothing-here", "--format", "json").output)
    assert doc == {"name": "nothing-here", "incomplete": None, "removed": False, "dry_run": False}


def test_demo_refuses_to_rerun_over_a_finished_demo(tmp_path, cli):
    (tmp_path / "d" / "store").mkdir(parents=True)
    (tmp_path / "d" / "store" / "sfng.yaml").write_text("name: demo\n")
    res = cli("demo", tmp_path / "d")
    assert res.exit_code == 1 and "--fresh" in res.output and "already holds the demo store" in res.output
    assert not (tmp_path / "d" / "surveys").exists()      # nothing was run

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

"""The schema page and the CLI reference are generated from the code."""

from sfng import docs_gen
from sfng.index import schema


def test_schema_page_lists_every_column_with_unit():
    text = docs_gen.schema_markdown()
    for c in schema.FILES_COLUMNS + schema.GALAXIES_COLUMNS:
        assert f"| `{c.name}` |" in text
    assert "| `depth_k` | float32 | K |" in text and "| `foot_ra` | float64[16] | deg |" in text
    assert f"Schema version **{schema.SCHEMA_VERSION}**" in text


def test_cli_reference_and_write(tmp_path):
    text = docs_gen.cli_markdown()
    for cmd in ("sfng index build", "sfng index stats", "sfng index check", "sfng index show",
                "sfng galaxies import", "sfng galaxies set", "sfng galaxies list"):
        assert f"`{cmd}`" in text
    assert "--measure-depth" in text and "\b" not in text
    written = docs_gen.write_all(tmp_path)
    assert sorted(p.name for p in written) == ["cli.md", "formats.md", "index-schema.md"]
    assert (tmp_path / "cli.md").read_text().startswith(docs_gen.GENERATED)


def test_committed_schema_page_is_current():
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "index-schema.md"
    assert page.read_text().rstrip("\n") == docs_gen.schema_markdown().rstrip("\n"), \
        "docs/index-schema.md is stale: run `make docs`"


def test_formats_page_lists_every_registered_format_and_hook():
    from pathlib import Path

    from sfng import formats

    text = docs_gen.formats_markdown()
    for f in formats.registered():
        assert f"| `{f.name}` | {f.description} |" in text
    for hook in ("claims_name", "landing", "name_galaxy", "science_hdu", "describe", "readme_text"):
        assert f"| `{hook}` |" in text
    page = Path(__file__).resolve().parent.parent / "docs" / "formats.md"
    assert page.read_text().rstrip("\n") == text.rstrip("\n"), "docs/formats.md is stale: run `make docs`"

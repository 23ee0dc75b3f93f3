"""``sfng demo``."""

import click


@click.command()
@click.argument("directory", type=click.Path(file_okay=False), default="demo-store")
@click.option("--fresh", is_flag=True, help="Delete DIRECTORY first and build everything anew.")
def demo(directory, fresh):
    """Build a small, realistic demo store in DIRECTORY offline, and run the main job on it.

    DIRECTORY/surveys/ receives survey folders as surveys publish them (THINGS, HERACLES, NRO45,
    BIMASONG, PAWS, SINGS, KINGFISH, HALPHA) for about a dozen real nearby galaxies;
    DIRECTORY/store/ becomes the sfng store. Every step of the main job runs and says what it did.
    Deterministic: the same command gives the same survey files and store contents
    (release tarballs differ only by their recorded creation time).

    \b
    Examples:
        sfng demo demo-store            build it (refused if DIRECTORY/store exists)
        sfng demo demo-store --fresh    delete DIRECTORY and build it again
    """
    from pathlib import Path

    from ..demo import clean, run_demo
    from ..errors import SfngError

    if fresh:
        clean(directory)
    elif (Path(directory) / "store" / "sfng.yaml").exists():
        # Rerunning the steps on the finished demo would report the demo's own `sfng fix`
        # edits as ingest conflicts: a wall of errors that teaches nothing.
        raise SfngError(f"{directory}/store already holds the demo store (try: cd {directory}/store); "
                        f"`sfng demo {directory} --fresh` builds it again from scratch")
    tree = run_demo(directory, say=click.echo)
    click.echo(f"demo store ready: {tree.store_dir}  (try: cd {tree.store_dir} && sfng --help)")

"""Reading YAML: :func:`safe_load`, PyYAML's safe loader in its C implementation when present.

The pure-Python loader costs ~40 ms for the tracer vocabulary alone, a fifth of a ``sfng find``;
libyaml's ``CSafeLoader`` builds the same objects from the same safe subset of YAML.
"""

from __future__ import annotations


def safe_load(text: str):
    """``yaml.safe_load(text)``, through libyaml when PyYAML was built with it."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader

"""Where the top-level ``static/``, ``templates/``, ``migrations/`` and ``schemas/`` live.

In a source checkout they sit beside the ``collector`` package; a built wheel carries
them inside it (see ``force-include`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the directory ``name`` (static, templates, migrations, schemas)."""
    packaged = _PACKAGE / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name

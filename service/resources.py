"""Where the shipped configuration and models are, and the one YAML reader.

An installed wheel carries ``configs/`` and ``models/`` inside the package (``service/_bundled/``, put there by
``setup.py``'s build step); a source checkout or an editable install reads the top-level folders of the checkout.
Nothing is found relative to the working directory, so ``xxgk`` runs from any directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled"
_CHECKOUT = _PACKAGE.parent


def _base(kind: str) -> Path:
    bundled = _BUNDLED / kind
    return bundled if bundled.is_dir() else _CHECKOUT / kind


CONFIG_DIR = _base("configs")
MODELS_DIR = _base("models")


def resolve(value: str | Path) -> Path:
    """A path named in a configuration file: absolute as given; ``configs/…`` and ``models/…`` in the shipped
    folders; anything else relative to the configuration folder."""
    path = Path(value)
    if path.is_absolute():
        return path
    head, *rest = path.parts or ("",)
    if head == "configs":
        return CONFIG_DIR.joinpath(*rest)
    if head == "models":
        return MODELS_DIR.joinpath(*rest)
    return CONFIG_DIR / path


def read_yaml(path: str | Path) -> Any:
    """A YAML file (LibYAML's safe loader where it is built in); ``path`` as :func:`resolve` reads it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with resolve(path).open(encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)

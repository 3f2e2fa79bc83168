"""Build step of the wheel: ``configs/`` and ``models/`` travel inside the package as ``service/_bundled/``, so an
installed xxgk finds its schema, options and classifier without a checkout (``service/resources.py`` looks there
first). Metadata and dependencies are in pyproject.toml; an editable install reads the checkout's folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("configs", "models")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in BUNDLED:
            target = Path(self.build_lib) / "service" / "_bundled" / name
            shutil.copytree(ROOT / name, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})

"""The metadata is in setup.cfg. This file only copies the page's files from the top-level
``static/`` (their one source) into the built package as ``mapsrv/static/``, so every install
layout (a venv, ``pip install --user``, ``--prefix``, ``--target``, a wheel) carries them inside
the package, where ``mapsrv.web.find_static_dir`` looks first."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_static(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "mapsrv" / "static"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(Path("static").iterdir()):
            if source.is_file():
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": build_py_with_static})

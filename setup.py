"""setuptools glue that pyproject.toml cannot express: the fake HCS's C sources travel inside the package.

The sources live in tests/fakes/ (the fake is developed and tested there, beside pyhcs's own tests); build_py copies
its *.c, *.h and README.md into pyhcs/testing/_fake/ of every wheel, where pyhcs.testing compiles them on first use.
The sdist carries tests/fakes/ (MANIFEST.in), so a wheel built from it gets them the same way. An editable install
reads tests/fakes/ in place. The wheel stays py3-none-any: it carries C source, never a compiled file.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FAKE_SOURCES = Path(__file__).resolve().parent / "tests" / "fakes"
PATTERNS = ("*.c", "*.h", "README.md")


class build_py_with_fake(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = sorted(p for pattern in PATTERNS for p in FAKE_SOURCES.glob(pattern))
        if not any(p.name == "fake.h" for p in files):
            raise SystemExit(f"setup.py: the fake HCS's sources are missing from {FAKE_SOURCES}")
        target = Path(self.build_lib) / "pyhcs" / "testing" / "_fake"
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": build_py_with_fake})

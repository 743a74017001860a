#!/usr/bin/env python3
"""CI leg: pyhcs.testing as a downstream project gets it, from a plain ``pip install`` of the built wheel.

    python tools/check_downstream.py [--keep]

1. Builds the wheel and the sdist of this checkout and checks what they carry: the wheel is ``py3-none-any`` with
   the fake's C sources in ``pyhcs/testing/_fake/``, the pytest plugin and its ``pytest11`` entry point, and no
   ``tests`` package (the name is the user's); the sdist has the sources in ``tests/fakes/``.
2. Installs ``<wheel>[testing]`` into a fresh virtual environment outside the checkout, with an empty fake cache,
   so the fake is compiled from the wheel's sources on first use, as a user's would be.
3. Runs examples/downstream's tests there (a copy outside the checkout): they must all pass -- among them the one
   that runs a deliberately leaking test and requires the plugin to fail it, naming the leak.
4. Follows docs/testing.md in a fresh project folder (tools/doc_session.py), its ``pip install`` line installing the
   wheel: every test file it shows passes, every command and program runs.
5. Checks that the always-registered plugin is inert for an unrelated project: pytest runs with it registered,
   and neither pyhcs nor cffi is imported.

Exits 0 when all of that holds; prints what failed otherwise. ``--keep`` leaves the work folder for inspection.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
import zipfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
DOWNSTREAM = ROOT / "examples" / "downstream"


def log(message: str) -> None:
    print(f"[check_downstream {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: List[str], **kwargs: object) -> "subprocess.CompletedProcess[str]":
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise SystemExit(f"check_downstream: {' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


def fake_sources() -> List[str]:
    return sorted(p.name for pattern in ("*.c", "*.h") for p in (ROOT / "tests" / "fakes").glob(pattern))


def build(dist: Path) -> Path:
    log("building the wheel and the sdist")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)])
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' build folder, not ours to keep
    (wheel,) = dist.glob("pyhcs-*.whl")
    if not wheel.name.endswith("-py3-none-any.whl"):
        raise SystemExit(f"check_downstream: the wheel must stay pure ({wheel.name})")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names
                     if n.startswith("pyhcs/testing/_fake/") and n[-2:] in (".c", ".h"))
    problems = []
    if shipped != fake_sources():
        problems.append(f"the wheel's pyhcs/testing/_fake/ differs from tests/fakes: {shipped}")
    for needed in ("_pyhcs_pytestplugin.py", "pyhcs/testing/plugin.py", "pyhcs/_ffi/decl/computecore.h"):
        if needed not in names:
            problems.append(f"the wheel lacks {needed}")
    if "pyhcs = _pyhcs_pytestplugin" not in entry_points or "[pytest11]" not in entry_points:
        problems.append(f"the wheel's pytest11 entry point is missing: {entry_points}")
    if any(n.startswith("tests/") for n in names):
        problems.append("the wheel installs a top-level tests package (the name belongs to the user's project)")
    code = ("import sys; from setuptools import build_meta; "
            f"print(build_meta.build_sdist({str(dist)!r}))")
    run([sys.executable, "-c", code], cwd=ROOT)
    shutil.rmtree(ROOT / "src" / "pyhcs.egg-info", ignore_errors=True)
    (sdist,) = dist.glob("pyhcs-*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = sorted(m.name.rsplit("/", 1)[1] for m in archive.getmembers()
                          if "/tests/fakes/" in m.name and m.name[-2:] in (".c", ".h"))
    if in_sdist != fake_sources():
        problems.append(f"the sdist's tests/fakes differs from the checkout's: {in_sdist}")
    if problems:
        raise SystemExit("check_downstream: " + "\n".join(problems))
    log(f"{wheel.name}: py3-none-any, {len(shipped)} fake sources, the plugin and its entry point; "
        f"{sdist.name}: the sources too")
    return wheel


def fresh_environment(work: Path, wheel: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYHCS_", "PYTHON")) and k not in ("VIRTUAL_ENV", "CC")}
    env["PYHCS_FAKE_CACHE"] = str(work / "cache")  # empty: the wheel's sources are compiled on first use
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pyhcs-downstream-"))
    try:
        wheel = build(work / "dist")
        built = time.monotonic()
        env = fresh_environment(work, wheel)
        venv.EnvBuilder(with_pip=True).create(work / "venv")
        python = work / "venv" / "bin" / "python"
        install = f"pip install -q {wheel}[testing]"
        log(f"fresh virtual environment {work / 'venv'}: {install}")
        run([str(python), "-m", *install.split()], env=env, cwd=work)
        where = run([str(python), "-c", "import pyhcs, _pyhcs_pytestplugin; print(pyhcs.__file__)"], env=env,
                    cwd=work).stdout.strip()
        if not where.startswith(str(work / "venv")):
            raise SystemExit(f"check_downstream: pyhcs was imported from {where}, not from the fresh environment")

        project = work / "downstream"
        shutil.copytree(DOWNSTREAM, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        log("examples/downstream: python -m pytest (the fake is built from the wheel's sources on first use)")
        tests = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-v"], cwd=project, env=env,
                               capture_output=True, text=True, timeout=600)
        summary = [line for line in tests.stdout.splitlines()
                   if line.startswith("tests/") and ("PASSED" in line or "FAILED" in line or "ERROR" in line)]
        print("\n".join(f"    {line}" for line in summary))
        if tests.returncode != 0 or "test_a_test_that_leaves_a_handle_open_is_reported" not in tests.stdout:
            raise SystemExit(f"check_downstream: the downstream project's tests failed:\n{tests.stdout[-8000:]}"
                             f"\n{tests.stderr[-3000:]}")
        log(tests.stdout.strip().splitlines()[-1])

        log("docs/testing.md, followed in a fresh project folder")
        spec = importlib.util.spec_from_file_location("doc_session", ROOT / "tools" / "doc_session.py")
        assert spec is not None and spec.loader is not None
        doc_session = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(doc_session)
        guide = work / "guide"
        guide.mkdir()
        outputs = doc_session.run(ROOT / "docs" / "testing.md", guide, python, install=install, env=env)
        text = "".join(outputs)
        if "result strings not freed: 0" not in text or " failed" in text:
            raise SystemExit(f"check_downstream: docs/testing.md did not run as written:\n{text[-6000:]}")
        log(f"docs/testing.md: {len(outputs)} steps ran, {text.count(' passed in ')} pytest runs passed")

        log("an unrelated project: the plugin is registered and inert")
        unrelated = work / "unrelated"
        (unrelated / "tests").mkdir(parents=True)
        (unrelated / "tests" / "test_nothing_to_do_with_hcs.py").write_text(
            "import sys\n\n\ndef test_pyhcs_stays_unloaded(request):\n"
            "    assert request.config.pluginmanager.has_plugin('pyhcs')\n"
            "    loaded = [m for m in ('pyhcs', 'cffi', '_cffi_backend') if m in sys.modules]\n"
            "    assert not loaded, loaded\n")
        run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=unrelated, env=env)
        log(f"done: {time.monotonic() - built:.0f} s after the build ({time.monotonic() - started:.0f} s in all)")
        return 0
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

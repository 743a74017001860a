"""Loading: explicit override, lazy symbols, a clear error naming a missing export, no silent fallback off
Windows."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyhcs
from pyhcs._ffi import lib, library_path, use_library
from tests.support import IS_WINDOWS

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYHCS_")}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True,
                          timeout=60)


def test_import_resolves_no_symbol_and_loads_no_library() -> None:
    result = _python("""
        import pyhcs, pyhcs._ffi.loader as l
        assert l._loaded == {}, l._loaded
        assert 'HcsCreateOperation' not in vars(l.lib)
        print('ok')
    """)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


@pytest.mark.skipif(IS_WINDOWS, reason="off-Windows behaviour")
def test_off_windows_without_override_is_unavailable_with_a_clear_message() -> None:
    result = _python("""
        import pyhcs
        try:
            pyhcs.ComputeSystem.open('x')
        except pyhcs.HcsUnavailableError as exc:
            print('unavailable:', exc)
    """)
    assert "unavailable:" in result.stdout and "PYHCS_COMPUTECORE" in result.stdout, result.stderr


@pytest.mark.skipif(IS_WINDOWS or not ctypes.util.find_library("m"), reason="needs a POSIX libm to stand in")
def test_missing_export_raises_function_not_found_naming_it(fake_library: Path) -> None:
    """An older Windows build lacking an export fails at call time, naming the function (hcsshim binds lazily)."""
    libm = ctypes.util.find_library("m")
    try:
        use_library(libm)
        with pytest.raises(pyhcs.HcsFunctionNotFoundError) as info:
            lib.HcsCreateOperationWithNotifications
        assert info.value.function == "HcsCreateOperationWithNotifications"
        assert "HcsCreateOperationWithNotifications" in str(info.value)
        assert not lib.has("HcsCreateOperation")
    finally:
        use_library(fake_library)
    assert lib.has("HcsCreateOperation")


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError):
        lib.HcsNoSuchFunction


def test_bad_override_path_is_unavailable(fake_library: Path, tmp_path: Path) -> None:
    try:
        use_library(tmp_path / "missing.so")
        with pytest.raises(pyhcs.HcsUnavailableError, match="missing.so"):
            lib.HcsCreateOperation
    finally:
        use_library(fake_library)


def test_environment_override_is_read_at_first_use(fake_library: Path) -> None:
    result = _python("""
        import pyhcs
        print(len(pyhcs.ComputeSystem.enumerate()) >= 0)
    """, PYHCS_COMPUTECORE=str(fake_library))
    assert result.returncode == 0 and "True" in result.stdout, result.stderr


def test_library_path_reports_the_override(fake_library: Path) -> None:
    assert Path(library_path("computecore")) == fake_library


@pytest.mark.parametrize("variable", ["PYHCS_COMPUTECORE", "PYHCS_COMPUTESTORAGE"])
@pytest.mark.parametrize("value", ["computecore.dll", "libfakehcs.so", os.path.join("build", "computecore.dll")])
def test_environment_overrides_must_be_absolute_paths(fake_library: Path, variable: str, value: str) -> None:
    """A relative name falls back to the DLL search order (application folder, current directory, PATH): the
    variables are a trust boundary, so only an absolute path is accepted."""
    env = {"PYHCS_COMPUTECORE": str(fake_library), variable: value}
    result = _python("""
        import pyhcs, pyhcs.storage
        try:
            pyhcs.ComputeSystem.enumerate()
            pyhcs.storage.destroy_layer("/nonexistent")
        except pyhcs.HcsUnavailableError as exc:
            print("refused:", exc)
        except pyhcs.HcsError:
            print("loaded")
    """, **env)
    assert "refused:" in result.stdout and variable in result.stdout and "absolute" in result.stdout, \
        result.stdout + result.stderr


def test_use_library_pins_a_relative_path_at_the_call(fake_library: Path, tmp_path: Path) -> None:
    """Loading is lazy: without pinning, a chdir between use_library() and the first call would change the file."""
    here = os.getcwd()
    try:
        os.chdir(fake_library.parent)
        use_library(os.path.join(".", fake_library.name))
        os.chdir(tmp_path)
        assert Path(library_path("computecore")) == fake_library
        assert lib.has("HcsCreateOperation")
    finally:
        os.chdir(here)
        use_library(fake_library)

"""The fake HCS as a build artifact: exact export set, cached/concurrent builds, and a sanitizer stress run.

The export set is what pyhcs declares (src/pyhcs/_ffi/decl/computecore.h: 59 functions, computestorage.h: 14) plus
LocalFree and the FakeHcs* control API declared in fakehcs_control.h -- nothing else leaks out of the library
(-fvisibility=hidden). pyhcs.testing builds it on first use into a per-user cache keyed by a hash of its inputs
(src/pyhcs/testing/build.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyhcs.testing import CompilerNotFoundError, FakeBuildError, build

DECL = build.decl_dir()
POSIX_BUILD = pytest.mark.skipif(sys.platform == "win32", reason="pyhcs.testing compiles the fake on POSIX only")


def _declared(header: str) -> list:
    return re.findall(r"WINAPI\s+\**(\w+)\s*\(", (DECL / header).read_text())


def _control_functions() -> list:
    """The FakeHcs* functions fakehcs_control.h declares (one place: a new control export is its line there)."""
    return re.findall(r"FAKEHCS_API\s+\w+\s+\**(FakeHcs\w+)\s*\(", build.control_header().read_text())


def test_exports_exactly_the_declared_functions(fake_library) -> None:
    core, stor = _declared("computecore.h"), _declared("computestorage.h")
    assert (len(core), len(stor)) == (59, 14)
    assert "FakeHcsReset" in _control_functions() and "FakeHcsServiceStatus" in _control_functions()
    if sys.platform == "win32" or shutil.which("nm") is None:
        pytest.skip("needs nm on an ELF build")
    out = subprocess.run(["nm", "-D", "--defined-only", str(fake_library)], capture_output=True, text=True,
                         check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    exported = {name for name in exported if not name.startswith(("_init", "_fini"))}
    assert exported == set(core) | set(stor) | {"LocalFree"} | set(_control_functions())


_BUILD_IN_CHILD = textwrap.dedent("""
    import sys
    from pyhcs.testing import fake_library, service_executable
    print(fake_library(), service_executable())
""")


@POSIX_BUILD
def test_concurrent_first_uses_build_once_and_share_the_entry(tmp_path: Path, fake) -> None:
    """Two processes asking for the fake at once in an empty cache: both get the same complete entry (the library
    and the service), built by one of them while the other waits for the lock; no temporary folder is left."""
    env = dict(os.environ, PYHCS_FAKE_CACHE=str(tmp_path / "cache"))
    for name in ("PYHCS_FAKE_LIBRARY", "PYHCS_FAKE_STORAGE_LIBRARY", "PYHCS_FAKE_SERVICE_EXECUTABLE"):
        env.pop(name, None)
    children = [subprocess.Popen([sys.executable, "-c", _BUILD_IN_CHILD], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    answers = [child.communicate(timeout=240) for child in children]
    assert all(child.returncode == 0 for child in children), answers
    paths = {out.split()[0] for out, _ in answers}
    services = {out.split()[1] for out, _ in answers}
    assert len(paths) == 1 and len(services) == 1, answers
    library = Path(paths.pop())
    entry = library.parent
    assert entry.parent == tmp_path / "cache" / "fake"
    assert sorted(p.name for p in entry.iterdir()) == ["fakehcs-service", "libfakehcs.so"]
    assert sorted(p.name for p in entry.parent.iterdir()) == sorted([entry.name, entry.name + ".lock"])
    mtime = library.stat().st_mtime_ns
    again = subprocess.run([sys.executable, "-c", _BUILD_IN_CHILD], env=env, capture_output=True, text=True,
                           check=True)
    assert again.stdout.split()[0] == str(library) and library.stat().st_mtime_ns == mtime  # cached: not rebuilt


def test_the_cache_follows_the_platform_conventions(tmp_path: Path) -> None:
    """XDG Base Directory on Linux ($XDG_CACHE_HOME, else ~/.cache; a relative value is ignored), LOCALAPPDATA on
    Windows, ~/Library/Caches on macOS; PYHCS_FAKE_CACHE overrides all of them."""
    home = Path.home()
    assert build.cache_root({}, "linux") == home / ".cache" / "pyhcs"
    assert build.cache_root({"XDG_CACHE_HOME": str(tmp_path)}, "linux") == tmp_path / "pyhcs"
    assert build.cache_root({"XDG_CACHE_HOME": "relative/cache"}, "linux") == home / ".cache" / "pyhcs"
    assert build.cache_root({"LOCALAPPDATA": str(tmp_path)}, "win32") == tmp_path / "pyhcs" / "Cache"
    assert build.cache_root({}, "darwin") == home / "Library" / "Caches" / "pyhcs"
    assert build.cache_root({"PYHCS_FAKE_CACHE": str(tmp_path / "x"), "XDG_CACHE_HOME": "/y"}, "linux") == \
        tmp_path / "x"


@POSIX_BUILD
def test_the_cache_key_covers_sources_compiler_and_flags(tmp_path: Path) -> None:
    """A changed source, header or compiler is a new entry, never a stale build; the key does not depend on where
    the sources are (a checkout and an installed wheel with the same sources share an entry)."""
    sources = tmp_path / "fake"
    shutil.copytree(build.source_dir(), sources, ignore=shutil.ignore_patterns("_build", "*.py", "tools"))
    key = build._build_key(["cc"], sources)
    moved = tmp_path / "elsewhere"
    shutil.copytree(sources, moved)
    assert build._build_key(["cc"], moved) == key
    assert build._build_key(["clang"], sources) != key
    (sources / "json.c").write_text((sources / "json.c").read_text() + "\n/* changed */\n")
    assert build._build_key(["cc"], sources) != key
    (moved / "engine.h").write_text((moved / "engine.h").read_text() + "\n")
    assert build._build_key(["cc"], moved) != key


@POSIX_BUILD
def test_a_missing_compiler_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYHCS_FAKE_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-cc-anywhere")
    monkeypatch.delenv("PYHCS_FAKE_LIBRARY", raising=False)
    with pytest.raises(CompilerNotFoundError, match="apt-get install gcc") as info:
        build.fake_library()
    assert "'no-such-cc-anywhere' was not found" in str(info.value) and "CC" in str(info.value)
    assert isinstance(info.value, FakeBuildError)


@POSIX_BUILD
def test_a_failed_compile_reports_the_command_and_the_compiler_output(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cc = tmp_path / "broken-cc"
    cc.write_text("#!/bin/sh\necho 'engine.c:1: error: this compiler is broken' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("PYHCS_FAKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.delenv("PYHCS_FAKE_LIBRARY", raising=False)
    with pytest.raises(FakeBuildError, match="this compiler is broken") as info:
        build.fake_library()
    assert info.value.command is not None and info.value.command[0] == str(cc)
    # Nothing half-built is left: no entry, no staging folder; only the lock file.
    assert [p.suffix for p in (tmp_path / "cache" / "fake").iterdir()] == [".lock"]


def _sanitizer_run(tmp_path: Path, flags: list, env: dict) -> None:
    cc = build.compiler()
    exe = tmp_path / "stress"
    sources = [str(p) for p in build.library_sources()]
    here = Path(__file__).resolve().parent / "fakes"
    cmd = cc + ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"] + flags + \
        [f"-I{here}", f"-I{DECL}", "-o", str(exe), str(here / "tools" / "stress.c")] + sources
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if "sanitize" in proc.stderr or "cannot find" in proc.stderr:
            pytest.skip(f"compiler lacks {flags}: {proc.stderr[-300:]}")
        raise AssertionError(proc.stderr)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=240, env=dict(os.environ, **env))
    if run.returncode < 0 and not run.stdout:
        pytest.skip(f"the {flags} runtime does not start here (signal {-run.returncode})")
    assert run.returncode == 0 and "leaks=0" in run.stdout, run.stdout + run.stderr[-4000:]
    assert "WARNING: ThreadSanitizer" not in run.stderr and "ERROR: AddressSanitizer" not in run.stderr, \
        run.stderr[-4000:]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX build")
def test_stress_under_thread_sanitizer(tmp_path, fake) -> None:
    """Many threads on systems, processes, callbacks, in-flight closes and unexpected exits: no data race, no leak."""
    _sanitizer_run(tmp_path, ["-fsanitize=thread"], {"TSAN_OPTIONS": "halt_on_error=1 report_signal_unsafe=0"})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX build")
def test_stress_under_address_sanitizer(tmp_path, fake) -> None:
    """The same run under AddressSanitizer + UBSan, including leak detection of the fake's own memory."""
    _sanitizer_run(tmp_path, ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
                   {"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})

"""boxctl is used as separate commands -- one process creates a box, later ones use and remove it -- so its tests
need one HCS shared by several processes, as vmcompute.exe is on Windows: the hcs_fake_service fixture of
pyhcs.testing starts a private fake HCS service, and every process run with its env() is a client of it."""

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def boxctl(service, *args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "boxctl", *args], cwd=PROJECT, env=service.env(),
                          capture_output=True, text=True, timeout=120)


def test_a_box_created_by_one_process_is_used_and_removed_by_others(hcs_fake_service) -> None:
    assert boxctl(hcs_fake_service, "create", "shared").returncode == 0
    with hcs_fake_service.control() as service:
        assert service.counters()["LiveSystems"] == 1  # the box outlived the process that created it
    used = boxctl(hcs_fake_service, "exec", "shared", "--", "echo", "hello from another process")
    assert (used.returncode, used.stdout) == (0, "hello from another process\n"), used.stderr
    assert "shared\tRunning" in boxctl(hcs_fake_service, "ls").stdout
    assert boxctl(hcs_fake_service, "rm", "shared").returncode == 0
    assert "shared" not in boxctl(hcs_fake_service, "ls").stdout


def test_a_fault_injected_in_the_service_reaches_the_next_client(hcs_fake_service) -> None:
    with hcs_fake_service.control() as service:
        service.inject_fault("HcsCreateComputeSystem", 0x80370100)  # HCS_E_TERMINATED
    failed = boxctl(hcs_fake_service, "create", "unlucky")
    assert failed.returncode == 1 and "HCS_E_TERMINATED" in failed.stderr
    assert boxctl(hcs_fake_service, "create", "lucky").returncode == 0  # one fault, one call
    assert boxctl(hcs_fake_service, "rm", "lucky").returncode == 0

"""A test that deliberately leaves a compute system handle open. The hcs_fake fixture of pyhcs.testing must fail it
(at teardown, with a LeakError naming OpenSystemHandles=1); tests/test_leak_check.py runs it and checks that.
It is outside tests/, so the project's own test run does not collect it directly."""

import pyhcs

KEPT = []


def test_forgets_to_close_its_system(hcs_fake) -> None:
    system = pyhcs.ComputeSystem.create("forgotten", {"SchemaVersion": {"Major": 2, "Minor": 1}, "Container": {}})
    KEPT.append(system)  # never closed

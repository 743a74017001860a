"""The fake's control API: ``pyhcs.testing.FakeHcs`` (src/pyhcs/testing/control.py), re-exported for the imports of
branches written before pyhcs.testing. New code: ``from pyhcs.testing import FakeHcs``."""

from pyhcs.testing.control import FAULT_ASYNC, FAULT_SYNC, LEAK_COUNTERS, Counters, FakeHcs, check_leaks

__all__ = ["FAULT_ASYNC", "FAULT_SYNC", "LEAK_COUNTERS", "Counters", "FakeHcs", "check_leaks"]

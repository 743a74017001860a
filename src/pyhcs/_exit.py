"""What interpreter exit does while HCS may still call back: never crash, and end within a bounded time.

A completion or event callback that reaches Python after the interpreter finalized crashes the process (cffi takes
the GIL of an interpreter that no longer exists: SIGSEGV/SIGILL, issue 8). At exit (an ``atexit`` handler, so it
runs after the program's own handlers registered later), pyhcs:

1. waits up to ``pyhcs.operation.EXIT_GRACE_SECONDS`` (default 10 s) for HCS to finish the operations in flight --
   awaited ones, and those adopted after a timed-out wait -- so their results are released normally. An awaited
   operation's completion callback closes the operation and queues the call for its event loop, which returns the
   handle's lease; no loop runs any more at this point, so this step does that for every completion queued
   (``operation.finish_completed``);
2. runs what is already queued for pyhcs's own threads: native closes requested on HCS threads, and user event
   callbacks (a callback registered with ``on_event`` sees the events that arrived before exit);
3. closes every HCS handle still open: HcsCloseComputeSystem / HcsCloseProcess unregister the event callback and
   wait for one in flight, HCS's guarantee that no event callback of that handle runs afterwards;
4. closes the native gates in front of the trampolines (``_gate``): a completion HCS delivers later returns at
   once, without entering Python.

Steps 2-3 run on a helper thread and are bounded as well (a user's inline callback blocked forever cannot hold
the exit). Where there are no gates (machines other than x86-64), step 4 becomes: keep waiting, without a bound,
for the operations whose completion would enter Python -- a slow exit instead of a crash, announced on stderr.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time

#: After the grace, how long steps 2-3 may take at most (seconds).
CLOSE_BUDGET_SECONDS = 2.0


def _close_everything() -> None:
    from . import _delivery, _handles

    _handles.flush_closes(1.0)
    thread = _delivery._callback_thread
    if thread is not None:
        thread.flush(1.0)
    for lease in _handles.open_leases():
        try:
            lease.close()
        except Exception:  # noqa: BLE001 - nothing can be reported at this point
            pass


@atexit.register
def _at_exit() -> None:
    from . import operation
    from ._gate import gates

    start = time.monotonic()
    operation.drain_at_exit(operation.EXIT_GRACE_SECONDS)
    helper = threading.Thread(target=_close_everything, name="pyhcs-exit", daemon=True)
    helper.start()
    helper.join(max(CLOSE_BUDGET_SECONDS, operation.EXIT_GRACE_SECONDS - (time.monotonic() - start)))
    if gates.supported:
        gates.close()
        return
    if operation.in_flight():
        print(f"pyhcs: waiting for HCS to complete {operation.in_flight()} operation(s) before exit "
              "(their completion callbacks would otherwise enter a finalized interpreter)", file=sys.stderr)
        while not operation.drain_at_exit(1.0):
            pass

"""pyhcs.runhcs: a drop-in for Microsoft's runhcs command line, on the public pyhcs object layer.

    runhcs [global options] command [command options] [arguments...]
    python -m pyhcs.runhcs ...

Commands, flags, outputs, error texts and exit codes follow runhcs (hcsshim cmd/runhcs) as go-runhcs drives it;
docs/cli.md lists every command and each deliberate difference from runhcs and from the OCI runtime spec.
Modules: ``args`` (parsing), ``app`` (the command table and help), ``commands``, ``state`` (the state store),
``shim`` (the per-container helper), ``channel`` (talking to helpers), ``hcs`` (the one door to pyhcs),
``output`` (byte-exact formats), ``signals``, ``log``, ``platform``.
"""

from typing import IO, Optional, Sequence

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[IO[bytes]] = None,
         stderr: Optional[IO[bytes]] = None) -> int:
    """Run one runhcs command line (default: ``sys.argv[1:]``) and return its exit status."""
    from .app import main as run

    return run(argv, stdout=stdout, stderr=stderr)

"""Typed HCS JSON schema documents (``TypedDict``/``Literal``), named as in Microsoft's HCS schema reference.

Each TypedDict describes one JSON object; its keys are the schema field names verbatim, so a document is
built as a plain ``dict`` literal and passed to ``json.dumps``. Everything is ``total=False`` unless the
schema requires a field (``Version.Major``/``Minor``, ``ResultError.Error``). Enums are ``Literal`` aliases.

Modules: :mod:`.common` (Version and shared enums), :mod:`.compute_system` (ComputeSystem, Container),
:mod:`.virtual_machine`, :mod:`.process`, :mod:`.requests`, :mod:`.properties`, :mod:`.results`,
:mod:`.storage`, :mod:`.namespace` (container namespace definitions) and :mod:`.versions` (helpers).
"""

from typing import List

from . import common
from . import namespace
from . import virtual_machine
from . import compute_system
from . import process
from . import requests
from . import results
from . import properties
from . import storage
from . import versions
from .common import *  # noqa: F401,F403 - re-exported through __all__
from .namespace import *  # noqa: F401,F403 - re-exported through __all__
from .virtual_machine import *  # noqa: F401,F403 - re-exported through __all__
from .compute_system import *  # noqa: F401,F403 - re-exported through __all__
from .process import *  # noqa: F401,F403 - re-exported through __all__
from .requests import *  # noqa: F401,F403 - re-exported through __all__
from .results import *  # noqa: F401,F403 - re-exported through __all__
from .properties import *  # noqa: F401,F403 - re-exported through __all__
from .storage import *  # noqa: F401,F403 - re-exported through __all__
from .versions import *  # noqa: F401,F403 - re-exported through __all__

# Each module lists its public names once; the package exports all of them.
__all__: List[str] = []
__all__ += common.__all__
__all__ += namespace.__all__
__all__ += virtual_machine.__all__
__all__ += compute_system.__all__
__all__ += process.__all__
__all__ += requests.__all__
__all__ += results.__all__
__all__ += properties.__all__
__all__ += storage.__all__
__all__ += versions.__all__

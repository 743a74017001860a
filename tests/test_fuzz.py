"""Property tests: any id, command line, environment or document either works or raises a typed error -- never a
crash, a hang, or a leaked handle."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyhcs
from pyhcs import ComputeSystem
from tests.support import IS_WINDOWS, container_document, unique_id

TYPED = (pyhcs.HcsError, ValueError, TypeError)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(system_id=st.text(max_size=40))
def test_any_system_id_works_or_raises_typed(fake, system_id: str) -> None:
    try:
        with ComputeSystem.create(system_id, container_document(), timeout=10) as system:
            assert system.id == system_id
            [p] = ComputeSystem.enumerate({"Ids": [system_id]})
            assert p["Id"] == system_id
    except TYPED:
        pass


@SETTINGS
@given(document=st.one_of(json_values, st.text(max_size=60)))
def test_any_document_works_or_raises_typed(fake, document) -> None:
    try:
        with ComputeSystem.create(unique_id("fuzz"), document, timeout=10):
            pass
    except TYPED:
        pass


@SETTINGS
@given(
    command=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    env=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=4),
)
def test_any_command_and_environment_work_or_raise_typed(fake, command: str, env) -> None:
    with ComputeSystem.create(unique_id("fuzz"), container_document(), timeout=10) as system:
        system.start(timeout=10)
        try:
            system.run(("exit 0; " if not IS_WINDOWS else "cmd /c rem ") + command, environment=env, timeout=10)
        except TYPED:
            pass


@SETTINGS
@given(query=json_values)
def test_any_property_query_works_or_raises_typed(fake, query) -> None:
    with ComputeSystem.create(unique_id("fuzz"), container_document(), timeout=10) as system:
        try:
            system.properties(json.dumps(query))
        except TYPED:
            pass

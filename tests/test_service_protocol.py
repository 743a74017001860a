"""The fake HCS service survives its clients (behaviour 7), and its protocol covers the whole engine interface.

A client's messages are untrusted: malformed, truncated, oversized or out-of-order messages, and a client that
disconnects in the middle of a request, are rejected without crashing the service or disturbing its other clients.
A "victim" client (its own process) holds a running system with an event callback and a process throughout; after
the abuse its system, process and callback are untouched and the service answers as before. The fuzz test feeds
random and mutated messages (hypothesis); PYHCS_FUZZ_EXAMPLES raises its example count (CI: 300).

Sources for the answers: HCSHResult.md -- HCS_E_UNSUPPORTED_PROTOCOL_VERSION, HCS_E_PROTOCOL_ERROR and
HCS_E_UNKNOWN_MESSAGE name the host/guest protocol's failures; the fake's client/service protocol reuses them (wire.h).
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import service as S
from tests.fakes.rawhcs import CONTAINER, IS_WINDOWS, S_OK, shell, unique_id
from tests.service_agent import Agent
from tests.support import win_sleep

HERE = Path(__file__).resolve().parent
FAKES = HERE / "fakes"
HCS_E_UNSUPPORTED_PROTOCOL_VERSION = 0x8037010C
HCS_E_PROTOCOL_ERROR = 0x80370111
HCS_E_UNKNOWN_MESSAGE = 0x8037010B
HCS_E_SYSTEM_NOT_FOUND = 0x8037010E
# Requests that act on every client by design (the FakeHcs* control API: reset, kill all, disconnect, faults,
# latency, unexpected exit, the host's OS version, stop): a fuzzer sending them well-formed is the test harness, not
# an attacker.
CONTROL_OPS = {24, 25, 26, 27, 33, 101, 102, 106}
FUZZ_EXAMPLES = int(os.environ.get("PYHCS_FUZZ_EXAMPLES", "300"))
# The victim's process outlives any fuzz campaign.
SLEEP_LONG = shell("exec sleep 3600", win_sleep(3600))


# ---------------------------------------------------------------------------------------------------- helpers
class Raw:
    """A raw connection to the service: bytes in, messages out."""

    def __init__(self, endpoint: str) -> None:
        self.pipe = S._Pipe(endpoint, 10)
        self.replies: Dict[int, bytes] = {}

    def send(self, data: bytes) -> None:
        self.pipe.send(data)

    def hello(self, **kw: Any) -> Tuple[int, bytes]:
        self.send(S.hello(**kw))
        kind, _, payload = self.receive()
        return kind, payload

    def receive(self) -> Tuple[int, int, bytes]:
        length, kind, handles, msg_id = S.HEADER.unpack(self.pipe.recv_exact(S.HEADER.size))
        return kind, msg_id, self.pipe.recv_exact(length)

    def reply(self, msg_id: int) -> Tuple[int, S.Reader]:
        """The reply to request msg_id (replies come in any order: the others are kept for later)."""
        while msg_id not in self.replies:
            kind, got, payload = self.receive()
            if kind == S.REPLY:
                self.replies[got] = payload
        r = S.Reader(self.replies.pop(msg_id))
        status = r.take("i") & 0xFFFFFFFF
        r.string()
        return status, r

    def closed_by_service(self, timeout: float = 5.0) -> bool:
        """True once the service has ended this connection."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.receive()
        except (EOFError, OSError):
            return True
        return False

    def close(self) -> None:
        self.pipe.close()


@pytest.fixture
def victim(fake_service: S.FakeService, tmp_path: Path) -> Iterator[Agent]:
    """A client minding its own business: a running system with a callback, and a process in it."""
    agent = Agent(fake_service, "victim", log_dir=tmp_path)
    sid = unique_id("victim")
    assert agent("create", name="s", id=sid, watch_events=True) == S_OK
    hr, pid = agent("spawn", name="p", system="s", params={"CommandLine": SLEEP_LONG}, watch_events=True)
    assert hr == S_OK
    agent.system_id, agent.process_id = sid, pid  # type: ignore[attr-defined]
    yield agent
    agent.close()


def assert_undisturbed(victim: Agent, service: S.FakeService) -> None:
    """The victim's system runs, its process runs, its callbacks saw nothing, and the service answers."""
    hr, text = victim("system", name="s", fn="GetProperties", options={"PropertyTypes": ["ProcessList"]})
    assert hr == S_OK
    props = json.loads(text)
    assert props["State"] == "Running"
    assert [p["ProcessId"] for p in props["ProcessList"]] == [victim.process_id]  # type: ignore[attr-defined]
    assert victim("events", name="s") == [] and victim("events", name="p") == []
    assert service.alive()
    with service.control() as ctl:
        assert victim.pid in ctl.clients()


def known_formats() -> List[Tuple[int, str]]:
    """(op, format) of every request, from engine_calls.h and wire.h."""
    text = (FAKES / "engine_calls.h").read_text()
    rows = re.findall(r'ENGINE_CALL(?:_VOID)?\((\d+),(?:[^"]*?)"([^"]*)"', text)
    ops = [(int(op), fmt) for op, fmt in rows]
    wire = (FAKES / "wire.h").read_text()
    for name, fmt in re.findall(r'#define WIRE_FMT_(\w+) "([^"]*)"', wire):
        op = int(re.search(rf"WIRE_OP_{name} = (\d+)", wire).group(1))  # type: ignore[union-attr]
        ops.append((op, fmt))
    return ops


# ---------------------------------------------------------------------------------------------------- the interface
def test_every_engine_call_is_forwarded_to_the_service() -> None:
    """engine.h is the service's interface: each of its functions is renamed for the in-process engine
    (engine_local.h) and forwarded (engine_calls.h, one row each, distinct op numbers) -- except the four the
    client answers itself (init, subscribe, last_error, is_disconnected)."""
    declared = set(re.findall(r"\b(engine_\w+)\s*\(", re.sub(r"/\*.*?\*/", "", (FAKES / "engine.h").read_text(),
                                                                flags=re.S)))
    declared -= {"engine_event_sink"}
    renamed = set(re.findall(r"#define (engine_\w+) local_\1\b", (FAKES / "engine_local.h").read_text()))
    rows = re.findall(r"ENGINE_CALL\((\d+), [^,]+, (\w+),|ENGINE_CALL_VOID\((\d+), (\w+),",
                      (FAKES / "engine_calls.h").read_text())
    forwarded = {"engine_" + (b or d) for a, b, c, d in rows}
    ops = [int(a or c) for a, b, c, d in rows]
    assert declared == renamed
    assert forwarded == declared - {"engine_init", "engine_subscribe", "engine_last_error", "engine_is_disconnected"}
    assert len(ops) == len(set(ops)) and all(0 < op < 100 for op in ops)


# ---------------------------------------------------------------------------------------------------- behaviour 7
def test_a_client_asking_for_another_protocol_version_is_refused(fake_service) -> None:
    raw = Raw(fake_service.endpoint)
    kind, payload = raw.hello(versions=(2, 7))
    r = S.Reader(payload)
    assert kind == S.REFUSED and r.take("i") & 0xFFFFFFFF == HCS_E_UNSUPPORTED_PROTOCOL_VERSION
    assert "version" in (r.string() or "")
    assert raw.closed_by_service()
    raw.close()
    with fake_service.control() as ctl:  # and the next one is served
        assert ctl.version == S.VERSION


def test_malformed_truncated_oversized_and_out_of_order_messages_are_rejected(fake_service, victim) -> None:
    ep = fake_service.endpoint
    # a request before HELLO: refused, connection ended
    raw = Raw(ep)
    raw.send(S.request(S.OP_LIST_CLIENTS, ">S", (), 1))
    kind, _, payload = raw.receive()
    assert kind == S.REFUSED and S.Reader(payload).take("i") & 0xFFFFFFFF == HCS_E_PROTOCOL_ERROR
    assert raw.closed_by_service()
    raw.close()
    # a malformed HELLO (bad magic)
    raw = Raw(ep)
    raw.send(S.frame(S.HELLO, struct.pack("<IHHII", 0xDEADBEEF, 1, 1, 1, 0)))
    assert raw.receive()[0] == S.REFUSED and raw.closed_by_service()
    raw.close()
    # truncated header, truncated payload: the client then vanishes
    for junk in (S.frame(S.HELLO)[:7], S.frame(S.REQUEST, b"\x01" * 40)[:30]):
        raw = Raw(ep)
        raw.hello()
        raw.send(junk)
        raw.close()
    # an oversized header ends that connection only
    raw = Raw(ep)
    raw.hello()
    raw.send(struct.pack("<IHHQ", S.MAX_PAYLOAD + 1, S.REQUEST, 0, 1))
    assert raw.closed_by_service()
    raw.close()
    # a header announcing handles that do not come
    raw = Raw(ep)
    raw.hello()
    raw.send(S.frame(S.REQUEST, struct.pack("<HH", S.OP_LIST_CLIENTS, 0), 1, handles=2))
    assert raw.closed_by_service()
    raw.close()
    # on one connection: well-framed but wrong messages are answered and the connection goes on
    raw = Raw(ep)
    raw.hello()
    cases = [
        (S.frame(S.REQUEST, b"\x07", 1), HCS_E_PROTOCOL_ERROR),                                 # no op
        (S.frame(S.REQUEST, struct.pack("<HH", 999, 0), 2), HCS_E_UNKNOWN_MESSAGE),             # unknown op
        (S.frame(S.REQUEST, struct.pack("<HH", 3, 0) + b"\x05\x00", 3), HCS_E_PROTOCOL_ERROR),  # truncated args
        (S.request(3, "tt", ("", "x"), 4) + b"", None),                                         # well-formed: runs
        (S.frame(S.REQUEST, struct.pack("<HHI", 3, 0, S.NULL_STRING) + S.encode_string("x"), 5),
         HCS_E_PROTOCOL_ERROR),                                                                  # NULL for a 't'
        (S.frame(S.REQUEST, struct.pack("<HH", 3, 0) + struct.pack("<I", 3) + b"a\0b" + S.encode_string("x"), 6),
         HCS_E_PROTOCOL_ERROR),                                                                  # NUL in a string
        (S.request(8, "ts", ("", None), 7) + b"", None),                                        # enumerate: runs
        (S.frame(S.REQUEST, struct.pack("<HH", 8, 0) + S.encode_string("") + S.encode_string(None) + b"!", 8),
         HCS_E_PROTOCOL_ERROR),                                                                  # trailing bytes
        (S.frame(S.HELLO, b"", 9), HCS_E_UNKNOWN_MESSAGE),                                       # HELLO again
        (S.frame(S.REPLY, b"\0" * 12, 10), HCS_E_UNKNOWN_MESSAGE),                               # a service's kind
        (S.frame(S.EVENT, b"", 11), HCS_E_UNKNOWN_MESSAGE),
        (S.frame(4242, b"abc", 12), HCS_E_UNKNOWN_MESSAGE),                                      # unknown kind
        (S.frame(S.NOTICE_ACK, b"\xff" * 3, 13), None),                                          # ignored
    ]
    for data, _ in cases:
        raw.send(data)
    for data, expected in cases:
        msg_id = S.HEADER.unpack_from(data)[3]
        if data[4:6] == struct.pack("<H", S.NOTICE_ACK):
            continue
        status, r = raw.reply(msg_id)
        if expected is None:
            assert status == 0, hex(status)
            if msg_id == 4:  # HcsOpenComputeSystem of an unknown id
                assert r.take("q") & 0xFFFFFFFF == HCS_E_SYSTEM_NOT_FOUND
        else:
            assert status == expected, (msg_id, hex(status))
    # ... and still serves: the victim's system is not visible to it (it never opened it), yet exists
    raw.send(S.request(3, "tt>U", ("", victim.system_id), 20))  # type: ignore[attr-defined]
    status, r = raw.reply(20)
    assert status == 0 and r.take("q") == S_OK and r.take("Q") != 0
    raw.close()  # the handle it just opened is closed for it: the victim's system must not be touched
    assert_undisturbed(victim, fake_service)


@pytest.mark.skipif(IS_WINDOWS, reason="descriptors travel as SCM_RIGHTS on POSIX only")
def test_descriptors_sent_by_a_client_are_closed_by_the_service(fake_service, victim) -> None:
    proc_fd = Path(f"/proc/{fake_service.pid}/fd")
    before = len(list(proc_fd.iterdir()))
    for _ in range(20):
        raw = Raw(fake_service.endpoint)
        raw.hello()
        r, w = os.pipe()
        assert raw.pipe._sock is not None
        payload = S.frame(S.REQUEST, struct.pack("<HH", S.OP_LIST_CLIENTS, 0), 1, handles=2)
        raw.pipe._sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("ii", r, w))])
        os.close(r)
        os.close(w)
        status, _ = raw.reply(1)
        assert status == 0
        raw.close()
    deadline = time.monotonic() + 5
    while len(list(proc_fd.iterdir())) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(proc_fd.iterdir())) <= before
    assert_undisturbed(victim, fake_service)


def test_a_client_that_disconnects_mid_request_is_cleaned_up(fake_service, victim) -> None:
    """Waits in flight end, systems it created keep running (a system outlives its creator) unless created with
    ShouldTerminateOnLastHandleClosed, and nothing of the victim's is touched."""
    ep = fake_service.endpoint
    plain, flagged = unique_id("mid"), unique_id("midflag")
    raw = Raw(ep)
    raw.hello()
    for i, (sid, doc) in enumerate(((plain, CONTAINER), (flagged, dict(CONTAINER,
                                                                       ShouldTerminateOnLastHandleClosed=True)))):
        raw.send(S.request(1, "tss>U", ("", sid, json.dumps(doc)), 10 + i))
        status, r = raw.reply(10 + i)
        assert status == 0 and r.take("q") == S_OK
        uid = r.take("Q")
        raw.send(S.request(2, "Ui", (uid, 0), 20 + i))   # complete the creation ...
        assert raw.reply(20 + i)[0] == 0
        raw.send(S.request(6, "Uis", (uid, 0, None), 30 + i))   # ... and start it
        assert raw.reply(30 + i)[0] == 0
        raw.send(S.request(9, "Uu>S", (uid, 0xFFFFFFFF), 40 + i))   # a wait that never ends on its own
    half = unique_id("half")
    raw.send(S.request(1, "tss>U", ("", half, json.dumps(CONTAINER)), 50))  # no waiting for it
    raw.close()

    def ids() -> Set[str]:  # enumerated: no handle opened, so none keeps the flagged system alive
        hr, text = victim("enumerate")
        assert hr == S_OK, hex(hr)
        return {str(p["Id"]) for p in json.loads(text)}

    # The count alone is ambiguous while the half-created one may still be on its way (it would be 3 with the
    # flagged one still alive): wait for the ids.
    deadline = time.monotonic() + 10
    listed = ids()
    while not (listed >= {plain, half} and flagged not in listed) and time.monotonic() < deadline:
        time.sleep(0.05)
        listed = ids()
    assert plain in listed and half in listed and flagged not in listed, listed
    with fake_service.control() as ctl:
        assert ctl.counters()["LiveSystems"] == 3  # the victim's, the plain one, the half-created one
    assert victim("open", name="plain", id=plain) == S_OK
    assert json.loads(victim("system", name="plain", fn="GetProperties")[1])["State"] == "Running"
    assert victim("open", name="flagged", id=flagged) == HCS_E_SYSTEM_NOT_FOUND
    assert victim("system", name="plain", fn="Terminate")[0] == S_OK
    victim("close", name="plain")
    assert_undisturbed(victim, fake_service)


# ---------------------------------------------------------------------------------------------------- fuzzing
def _seeds() -> List[bytes]:
    """Valid messages of every kind a client sends, to mutate."""
    values = {"s": "{}", "t": "", "U": 1, "u": 100, "i": 1}
    out = [S.hello(), S.frame(S.NOTICE_ACK, struct.pack("<Q", 1)), S.frame(S.COUNTERS, b"\0" * 48, 1)]
    for op, fmt in known_formats():
        if op in CONTROL_OPS or op in (11, 12):  # never well-formed control or process creation
            continue
        out.append(S.request(op, fmt, [values[c] for c in fmt.split(">")[0]], op))
    return out


def _defuse(message: bytes) -> bytes:
    """A REQUEST for a control operation gets an unknown op instead (see CONTROL_OPS)."""
    if len(message) >= 18 and message[4:6] == struct.pack("<H", S.REQUEST):
        (op,) = struct.unpack_from("<H", message, 16)
        if op in CONTROL_OPS or op in (11, 12):
            message = message[:16] + struct.pack("<H", 0xFFF0) + message[18:]
    return message


@st.composite
def fuzz_streams(draw: Any) -> Tuple[bool, List[bytes]]:
    seeds = _seeds()
    messages = []
    for _ in range(draw(st.integers(1, 6))):
        how = draw(st.sampled_from(["random", "mutate", "truncate", "header", "seed"]))
        if how == "random":
            m = draw(st.binary(max_size=64))
        elif how == "header":
            m = struct.pack("<IHHQ", draw(st.integers(0, 200)), draw(st.integers(0, 12)), draw(st.integers(0, 4)),
                            draw(st.integers(0, 2**64 - 1))) + draw(st.binary(max_size=200))
        else:
            m = bytearray(draw(st.sampled_from(seeds)))
            if how == "mutate":
                for _ in range(draw(st.integers(1, 4))):
                    m[draw(st.integers(0, len(m) - 1))] = draw(st.integers(0, 255))
            elif how == "truncate":
                m = m[:draw(st.integers(0, len(m)))]
            m = bytes(m)
        messages.append(_defuse(m))
    return draw(st.booleans()), messages


FUZZ_TRIED = {"inputs": 0, "messages": 0}


def test_protocol_fuzzing_never_crashes_the_service_or_disturbs_its_clients(fake_service, victim) -> None:
    """Random, mutated and truncated messages, each stream on a fresh connection (with or without a HELLO first),
    closed at a random point; after every example the service still answers."""
    ep = fake_service.endpoint

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(fuzz_streams())
    def one(stream: Tuple[bool, List[bytes]]) -> None:
        say_hello, messages = stream
        raw = Raw(ep)
        try:
            if say_hello:
                raw.hello()
            for m in messages:
                raw.send(m)
                FUZZ_TRIED["messages"] += 1
        except OSError:
            pass  # the service ended the connection: allowed
        finally:
            raw.close()
        FUZZ_TRIED["inputs"] += 1

    one()
    with fake_service.control() as ctl:  # every connection was cleaned up
        deadline = time.monotonic() + 10
        while len(ctl.clients()) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ctl.clients() == [victim.pid]
    assert_undisturbed(victim, fake_service)
    print(f"\nfuzz: {FUZZ_TRIED['inputs']} connections, {FUZZ_TRIED['messages']} messages; service alive, "
          f"victim undisturbed")

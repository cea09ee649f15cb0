"""The pure core under the client: SessionState, TurnAssembler, Ledger (no sockets).

In the style of h11's test_state.py: every transition, and every refusal.
"""

from __future__ import annotations

import pytest

from rawlive.errors import LocalProtocolError, RemoteProtocolError
from rawlive.protocol.ledger import Ledger
from rawlive.protocol.messages import (
    ClientContent,
    ClientMessage,
    Content,
    FunctionCall,
    FunctionResponse,
    GoAway,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    UsageMetadata,
)
from rawlive.protocol.session import TRANSITIONS, ConnectionState, SessionState, TurnAssembler

S = ConnectionState
SETUP = ClientMessage(setup=Setup(model="models/m"))
TEXT = ClientMessage.wrap(ClientContent(turns=(Content.user_text("hi"),), turn_complete=True))
COMPLETE = ServerMessage.bundle(SetupComplete())
CHUNK = ServerMessage.bundle(ServerContent(model_turn=Content(role="model", parts=())))
TURN_END = ServerMessage.bundle(ServerContent(turn_complete=True))
GO_AWAY = ServerMessage.bundle(GoAway(time_left="50s"))


def handle(name: str, *, resumable: bool = True, index: int | None = None) -> ServerMessage:
    return ServerMessage.bundle(
        SessionResumptionUpdate(
            new_handle=name, resumable=resumable, last_consumed_client_message_index=index
        )
    )


def opened() -> SessionState:
    state = SessionState()
    state.on_send(SETUP)
    state.on_receive(COMPLETE)
    return state


# ------------------------------------------------------------ SessionState


def test_the_happy_path_through_every_state() -> None:
    state = SessionState()
    assert state.phase is S.CONNECTING
    state.on_send(SETUP)
    assert state.phase is S.SETTING_UP and state.setup == SETUP.setup
    state.on_receive(COMPLETE)
    assert state.phase is S.OPEN
    state.on_send(TEXT)
    assert state.sent_count == 1
    state.on_receive(GO_AWAY)
    assert state.phase is S.GOING_AWAY and state.go_away is not None
    state.on_send(TEXT)  # still allowed until the close
    state.on_receive(GO_AWAY)
    assert state.phase is S.GOING_AWAY
    state.on_close()
    assert state.phase is S.CLOSED


def test_the_table_is_every_move_and_every_stay_written_out() -> None:
    # The table is built from its moves, its stays and "every state closes";
    # written out, it is exactly these thirteen pairs.
    assert TRANSITIONS == {
        (S.CONNECTING, "send:setup"): S.SETTING_UP,
        (S.CONNECTING, "close"): S.CLOSED,
        (S.SETTING_UP, "recv:setupComplete"): S.OPEN,
        (S.SETTING_UP, "recv:other"): S.SETTING_UP,
        (S.SETTING_UP, "close"): S.CLOSED,
        (S.OPEN, "send:other"): S.OPEN,
        (S.OPEN, "recv:other"): S.OPEN,
        (S.OPEN, "recv:goAway"): S.GOING_AWAY,
        (S.OPEN, "close"): S.CLOSED,
        (S.GOING_AWAY, "send:other"): S.GOING_AWAY,
        (S.GOING_AWAY, "recv:other"): S.GOING_AWAY,
        (S.GOING_AWAY, "recv:goAway"): S.GOING_AWAY,
        (S.GOING_AWAY, "close"): S.CLOSED,
    }


@pytest.mark.parametrize(
    ("start", "event"),
    [(s, e) for s in S for e in ("send:setup", "send:other") if (s, e) not in TRANSITIONS],
)
def test_every_send_not_in_the_table_is_refused_locally(start: ConnectionState, event: str) -> None:
    state = SessionState()
    state.phase = start
    with pytest.raises(LocalProtocolError, match="not allowed"):
        state.on_send(SETUP if event == "send:setup" else TEXT)
    assert state.phase is start


@pytest.mark.parametrize(
    ("start", "event", "message"),
    [
        (s, e, m)
        for s in S
        for e, m in (("recv:setupComplete", COMPLETE), ("recv:goAway", GO_AWAY))
        if (s, e) not in TRANSITIONS
    ],
)
def test_every_receive_not_in_the_table_is_the_servers_fault(
    start: ConnectionState, event: str, message: ServerMessage
) -> None:
    state = SessionState()
    state.phase = start
    with pytest.raises(RemoteProtocolError, match="out of order"):
        state.on_receive(message)
    assert state.phase is start


def test_a_second_setup_complete_is_refused_as_remote() -> None:
    state = opened()
    with pytest.raises(RemoteProtocolError, match="setupComplete out of order"):
        state.on_receive(COMPLETE)


def test_turns_open_and_complete_and_handles_cover_them() -> None:
    state = opened()
    assert not state.turn_open and not state.handle_pending
    state.on_receive(CHUNK)
    assert state.turn_open
    state.on_receive(TURN_END)
    assert not state.turn_open and state.turns_completed == 1 and state.handle_pending
    state.on_receive(handle("h1"))
    assert state.handle == "h1" and state.handle_turns == 1 and not state.handle_pending


def test_a_tool_call_opens_the_turn_and_is_pending_until_answered() -> None:
    state = opened()
    call = FunctionCall(name="f", id="c1")
    state.on_receive(ServerMessage.bundle(ToolCall(function_calls=(call,))))
    assert state.turn_open and state.pending_calls == {"c1": call}
    state.on_send(
        ClientMessage.wrap(ToolResponse(function_responses=(FunctionResponse(id="c1", name="f"),)))
    )
    assert state.pending_calls == {}


def test_a_cancellation_clears_a_pending_call() -> None:
    state = opened()
    state.on_receive(
        ServerMessage.bundle(ToolCall(function_calls=(FunctionCall(name="f", id="c1"),)))
    )
    state.on_receive(ServerMessage.bundle(ToolCallCancellation(ids=("c1",))))
    assert state.pending_calls == {}


@pytest.mark.parametrize(
    "update",
    [handle("h2", resumable=False), ServerMessage.bundle(SessionResumptionUpdate())],
    ids=["not-resumable", "empty"],
)
def test_an_update_that_is_not_resumable_never_replaces_the_handle(update: ServerMessage) -> None:
    state = opened()
    state.on_receive(handle("h1"))
    state.on_receive(TURN_END)
    state.on_receive(update)
    assert state.handle == "h1" and state.handle_pending


def test_a_new_connection_keeps_handle_usage_and_calls_and_cuts_the_open_turn() -> None:
    state = opened()
    state.on_receive(handle("h1"))
    state.on_receive(ServerMessage.bundle(UsageMetadata(total_token_count=5)))
    state.on_receive(CHUNK)
    state.reset_connection()
    assert state.phase is S.CONNECTING and not state.turn_open and state.go_away is None
    assert state.handle == "h1" and state.usage.total_tokens == 5
    state.on_send(SETUP)
    state.on_receive(COMPLETE)
    assert state.phase is S.OPEN


def test_the_consumed_index_is_kept() -> None:
    state = opened()
    state.on_receive(handle("h1", index=3))
    assert state.last_consumed_index == 3


# ------------------------------------------------------------ TurnAssembler


def test_the_assembler_ends_on_turn_complete_only() -> None:
    assembler = TurnAssembler()
    assert not assembler.started
    text = ServerMessage.bundle(
        ServerContent(model_turn=Content(role="model", parts=(Content.user_text("a").parts)))
    )
    assert assembler.feed(text) is False
    assert assembler.started
    assert assembler.feed(ServerMessage.bundle(ServerContent(generation_complete=True))) is False
    assert assembler.feed(TURN_END) is True
    turn = assembler.build()
    assert turn.text == "a" and turn.generation_complete and turn.turn_complete


def test_an_interrupted_turn_is_marked_and_still_ends_on_turn_complete() -> None:
    assembler = TurnAssembler()
    assert assembler.feed(ServerMessage.bundle(ServerContent(interrupted=True))) is False
    assert assembler.feed(TURN_END) is True
    assert assembler.build().interrupted


# ------------------------------------------------------------------ Ledger


def write_all(ledger: Ledger) -> list[int]:
    indices = []
    while (entry := ledger.next_to_write()) is not None:
        indices.append(ledger.written(entry))
    return indices


def test_entries_are_written_in_order_with_indices_after_setup() -> None:
    ledger = Ledger()
    for i in range(3):
        ledger.record(TEXT, b"%d" % i)
    assert ledger.queued == 3
    assert write_all(ledger) == [1, 2, 3]
    assert ledger.queued == 0 and ledger.unanswered == 3


def test_writing_out_of_order_is_refused() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"a")
    second = ledger.record(TEXT, b"b")
    with pytest.raises(ValueError, match="in order"):
        ledger.written(second)


def test_a_handle_covers_the_answered_run_only() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"q1")
    write_all(ledger)
    assert ledger.on_turn_complete() is False
    assert ledger.awaiting_handle
    ledger.record(TEXT, b"q2")
    write_all(ledger)  # sent after the turn ended: not covered by its handle
    assert ledger.on_handle() == 1
    assert [e.frame for e in ledger.entries()] == [b"q2"] and not ledger.awaiting_handle


def test_a_handle_with_an_index_covers_up_to_it() -> None:
    ledger = Ledger()
    for i in range(5):
        ledger.record(TEXT, b"%d" % i)
    write_all(ledger)
    assert ledger.on_handle(last_consumed_index=3) == 3
    assert [e.index for e in ledger.entries()] == [4, 5]


def test_an_index_never_covers_entries_not_written_yet() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"a")
    write_all(ledger)
    ledger.record(TEXT, b"queued")
    assert ledger.on_handle(last_consumed_index=9) == 1
    assert [e.frame for e in ledger.entries()] == [b"queued"]


def test_a_new_connection_sends_everything_again_and_counts_it() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"sent")
    write_all(ledger)
    ledger.record(TEXT, b"queued")
    resend = ledger.new_connection()
    assert (resend.resent, resend.queued, resend.duplicates) == (1, 1, 0)
    assert write_all(ledger) == [1, 2]


def test_an_answered_turn_without_its_handle_is_a_duplicate_on_the_next_connection() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"q1")
    write_all(ledger)
    ledger.on_turn_complete()  # the answer was delivered; then the connection dropped
    ledger.record(TEXT, b"q2")
    resend = ledger.new_connection()
    assert resend.duplicates == 1
    # q1 goes again; q2 waits until q1's second answer is over
    assert write_all(ledger) == [1]
    assert ledger.next_to_write() is None
    assert ledger.on_turn_complete() is True  # the duplicate: dropped by the reader
    assert write_all(ledger) == [2]
    assert ledger.on_turn_complete() is False  # q2's own answer


def test_a_drop_during_the_duplicate_keeps_expecting_it() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"q1")
    write_all(ledger)
    ledger.on_turn_complete()
    ledger.new_connection()
    write_all(ledger)
    assert ledger.new_connection().duplicates == 1  # dropped again before the duplicate came
    write_all(ledger)
    assert ledger.on_turn_complete() is True
    ledger.on_handle()
    assert len(ledger) == 0 and ledger.new_connection().duplicates == 0


def test_a_handle_clears_the_answered_turns() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"q1")
    write_all(ledger)
    ledger.on_turn_complete()
    ledger.on_handle()
    assert ledger.new_connection() == type(ledger.new_connection())(0, 0, 0)


def test_giving_up_on_a_duplicate_releases_what_was_held_back() -> None:
    ledger = Ledger()
    ledger.record(TEXT, b"q1")
    write_all(ledger)
    ledger.on_turn_complete()
    ledger.record(TEXT, b"q2")
    ledger.new_connection()
    assert write_all(ledger) == [1]
    ledger.give_up_duplicates()
    assert write_all(ledger) == [2]
    assert ledger.on_turn_complete() is False


# ------------------------------------------------------------------- Inbox


async def test_the_inbox_counts_bytes_and_ends_after_the_last_item() -> None:
    from rawlive.engine import Inbox

    inbox = Inbox(limit=10)
    inbox.put("a", 6)
    inbox.put("b", 6)
    assert inbox.full and inbox.bytes == 12
    inbox.end(LocalProtocolError("over"))
    assert await inbox.get() == "a" and not inbox.full
    assert await inbox.get() == "b" and inbox.bytes == 0
    with pytest.raises(LocalProtocolError, match="over"):
        await inbox.get()


def test_on_room_is_called_once_when_the_buffer_drains_below_its_bound() -> None:
    from rawlive.engine import Inbox

    calls: list[int] = []
    inbox = Inbox(limit=4)
    inbox.put("x", 3)
    inbox.put("y", 3)
    inbox.on_room = lambda: calls.append(inbox.bytes)
    assert inbox.get_nowait() == "x"  # 3 bytes left: below the bound
    assert calls == [3] and inbox.on_room is None
    assert inbox.get_nowait() == "y"
    assert calls == [3]  # once: the engine sets it again when it pauses again


async def test_a_waiting_get_wakes_on_put_and_times_out_without() -> None:
    import asyncio

    from rawlive.engine import Inbox

    inbox = Inbox()
    with pytest.raises(asyncio.TimeoutError):
        await inbox.get(timeout=0.01)
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put("m")
    assert await asyncio.wait_for(getter, 1.0) == "m"

"""The layout the hot paths rely on: every wire record keeps unset fields out of its ``__dict__``.

``protocol/codec.py`` (``_fast_model_turn``), ``protocol/session.py``
(``TurnAssembler.feed``, ``SessionState.on_receive``) and ``engine.py`` (the
reader) recognise the commonest frame, a model-turn chunk, with
``len(message.__dict__) == 1``: that holds only while each record is a plain
(not slotted) class whose unset fields are absent from the instance dict and
read their default from the class. A record that gains ``slots=True``, a
``default_factory`` or a non-None default breaks those paths silently (they
would fall back, or read wrong); these tests fail first.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Any

import pytest

from rawlive.protocol import messages
from rawlive.protocol.codec import decode_server

RECORDS = sorted(
    (
        cls
        for cls in vars(messages).values()
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and hasattr(cls, "_DEC")
    ),
    key=lambda cls: cls.__name__,
)


def test_every_wire_record_is_checked() -> None:
    names = {cls.__name__ for cls in RECORDS}
    assert {"ServerMessage", "ServerContent", "Content", "Part", "Blob", "ClientMessage"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_keeps_unset_fields_out_of_its_instance_dict(cls: type[Any]) -> None:
    assert "__slots__" not in vars(cls) or vars(cls)["__slots__"] == ()
    assert cls.__dictoffset__ != 0, "instances need a __dict__ (no slots=True)"
    fresh = object.__new__(cls)
    assert fresh.__dict__ == {}
    for field in dataclasses.fields(cls):
        assert field.default_factory is dataclasses.MISSING, field.name
        if field.name == "extra":
            assert field.default == {} and fresh.extra == {}
        else:
            assert field.default is None, (
                f"{cls.__name__}.{field.name} defaults to {field.default!r}"
            )
            assert getattr(fresh, field.name) is None


@pytest.mark.parametrize(
    "frame",
    [
        # the codec's fast path
        b'{"serverContent":{"modelTurn":{"parts":[{"text":"hi"}]}}}',
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"AAA="}}]}}}',
        # the generic path (snake_case, two parts) must give the same layout
        b'{"server_content":{"model_turn":{"parts":[{"text":"a"},{"text":"b"}]}}}',
    ],
)
def test_a_decoded_chunk_has_one_attribute_at_each_level(frame: bytes) -> None:
    message = decode_server(frame)
    assert list(message.__dict__) == ["server_content"]
    assert list(message.server_content.__dict__) == ["model_turn"]  # type: ignore[union-attr]


def test_a_chunk_with_more_keys_is_not_mistaken_for_a_bare_chunk() -> None:
    message = decode_server(b'{"serverContent":{"modelTurn":{"parts":[]},"turnComplete":true}}')
    assert len(message.server_content.__dict__) == 2  # type: ignore[union-attr]


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info < (3, 11),
    reason="inline instance values are a CPython 3.11+ layout",
)
def test_a_record_built_by_keywords_has_no_dict_object_beside_it() -> None:
    # A session keeps its setup for its whole life: its values stay inline
    # (no dict object for the cyclic GC to walk) as long as nothing reads
    # __dict__. Writing through __dict__ in __init__ would add one per record.
    setup = messages.Setup(
        model="models/m",
        generation_config=messages.GenerationConfig(response_modalities=("AUDIO",)),
    )
    referents = gc.get_referents(setup)
    assert not any(type(r) is dict for r in referents)
    assert any(type(r) is messages.GenerationConfig for r in referents)
    assert setup.model == "models/m" and list(setup.__dict__) == ["model", "generation_config"]

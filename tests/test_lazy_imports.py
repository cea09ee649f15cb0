"""The package imports lazily: ``import rawlive`` and ``rawlive explain`` load little."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rawlive
from rawlive.closecodes import CloseExplanation, explain_close


def _modules_after(code: str) -> set[str]:
    probe = code + "; import sys; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_import_rawlive_closecodes_loads_no_protocol_layer_nor_asyncio() -> None:
    loaded = _modules_after("import rawlive.closecodes")
    assert {"asyncio", "websockets", "rawlive.protocol", "typing", "dataclasses"}.isdisjoint(loaded)


def test_explain_loads_only_its_own_module() -> None:
    code = "import sys; sys.argv = ['rawlive', 'explain', '1008']\nfrom rawlive.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    probe = code + "\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "policy violation" in done.stdout
    loaded = set(done.stdout.split())
    ours = {m for m in loaded if m.startswith("rawlive")}
    assert ours == {
        "rawlive",
        "rawlive.cli",
        "rawlive.cli.explain",
        "rawlive.closecodes",
        "rawlive.errors",
    }
    assert {"asyncio", "websockets", "typing", "dataclasses"}.isdisjoint(loaded)


def test_turn_comes_from_the_pure_layer() -> None:
    loaded = _modules_after("import rawlive; rawlive.Turn; rawlive.UsageTotals")
    assert "rawlive.protocol.session" in loaded
    assert {"asyncio", "websockets"}.isdisjoint(loaded)


def test_one_table_drives_all_and_every_name_resolves() -> None:
    from rawlive.protocol import messages

    table = {**rawlive._EXPORTS, **dict.fromkeys(messages.__all__, "rawlive.protocol")}
    assert rawlive.__all__ == sorted([*table, "__version__"])
    for name, module in table.items():
        value = getattr(rawlive, name)
        assert value is getattr(sys.modules[module], name)
    assert "ModelName" not in rawlive.__all__
    assert set(rawlive.__all__) <= set(dir(rawlive))


def test_names_outside_the_protocol_do_not_load_it() -> None:
    loaded = _modules_after(
        "import rawlive; rawlive.LiveError; hasattr(rawlive, '_private'); hasattr(rawlive, '__wrapped__')"
    )
    assert "rawlive.protocol" not in loaded
    assert "rawlive.protocol" in _modules_after("import rawlive; rawlive.Setup")


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rawlive.Nope  # noqa: B018


def test_close_explanation_is_an_immutable_value() -> None:
    first = explain_close(1008, "model not found")
    again = explain_close(1008, "model not found")
    assert isinstance(first, CloseExplanation)
    assert first == again and hash(first) == hash(again)
    assert first != explain_close(1011, "")
    assert repr(first).startswith("CloseExplanation(code=1008, reason='model not found'")
    with pytest.raises(AttributeError, match="immutable"):
        first.code = 1000  # type: ignore[misc]
    with pytest.raises(TypeError):
        CloseExplanation(1008, "", "t", "m", False)  # type: ignore[misc]

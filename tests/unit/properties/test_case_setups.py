"""What a property draws besides the tensors (``RopeCase.setup``, a typed ``CaseSetup``)
survives the reproduce line: a line printed now rebuilds the identical case, and the
``extra={...}`` lines of earlier versions, which users have stored, still parse into the
typed setup they stood for."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ropecheck.config import RopeConfig
from ropecheck.properties import BY_NAME, BufferLayout, EmptyInserted, History, Layout, Poison, Shift, Split
from ropecheck.repro import parse_case
from ropecheck.spec import spec_from_mapping
from ropecheck.strategies import RopeCase

CASE = RopeCase(batch=1, seq=2, heads=2, head_dim=8, dtype="float32",
                config=RopeConfig(base=10000.0, rotary_dim=8, pairing="half_split", head_dim=8),
                positions=((3, 4),), seed=5)
OLD_PREFIX = ("RopeCase(batch=1, seq=2, heads=2, head_dim=8, dtype='float32', config=RopeConfig(base=10000.0, "
              "rotary_dim=8, pairing='half_split', scaling=None, head_dim=8), positions=((3, 4),), seed=5, scale=1.0")
OLD_NESTED = ("RopeCase(batch=1, seq=2, heads=2, head_dim=8, dtype='float64', config=RopeConfig(base=10000.0, "
              "rotary_dim=8, pairing='half_split', scaling=None, head_dim=8), positions=((3, 4),), seed=5, "
              "scale=1.0, kv_heads=None, lengths=None, fused=False, extra={})")

SETUPS = [Shift(7), Shift((0, 3, -2)), Split(1), Split((0, 2)), Layout("transposed"), BufferLayout("sliced_heads"),
          EmptyInserted((0, 2, 1)), Poison((0, 1, 0, 3), "-inf", 1), History((dataclasses.replace(CASE, dtype="float64"),
                                                                                   CASE))]


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: type(s).__name__)
def test_a_printed_reproduce_line_rebuilds_the_identical_case(setup):
    case = dataclasses.replace(CASE, setup=setup)
    line = case.repro()
    assert "extra=" not in line and f"setup={type(setup).__name__}(" in line, line
    again = parse_case(line)
    assert again == case and again.setup == setup and again.summary() == case.summary()


# (an ``extra`` of an earlier version's line, what it stands for, the words the summary prints)
OLD_LINES = [
    ("{'shift': 7}", Shift(7), " shift=7"),
    ("{'shift': (0, 3)}", Shift((0, 3)), " shift=(0, 3)"),
    ("{'split': (1, 0)}", Split((1, 0)), " split=(1, 0)"),
    ("{'layout': 'padded_head_dim'}", Layout("padded_head_dim"), " layout=padded_head_dim"),
    ("{'buffer layout': 'contiguous'}", BufferLayout("contiguous"), " buffer layout=contiguous"),
    ("{'empty inserted': (1, 0, 2)}", EmptyInserted((1, 0, 2)), " empty inserted=(1, 0, 2)"),
    ("{'poison': (0, 1, 0, 3), 'value': 'nan', 'operand': 0}", Poison((0, 1, 0, 3), "nan", 0),
     " poison=(0, 1, 0, 3) value=nan operand=0"),
    (f"{{'history': ({OLD_NESTED},)}}", History((dataclasses.replace(CASE, dtype="float64"),)),
     "; after call 1: float64 shape=(1, 2, 2, 8) base=10000 rotary_dim=8 positions 3..4"),
]


@pytest.mark.parametrize("extra, setup, words", OLD_LINES, ids=[type(o[1]).__name__ for o in OLD_LINES])
def test_a_stored_extra_line_still_parses_into_the_typed_setup(extra, setup, words):
    case = parse_case(f"{OLD_PREFIX}, extra={extra})")
    assert case == dataclasses.replace(CASE, setup=setup)
    assert case.summary().endswith(words), case.summary()
    assert parse_case(case.repro()) == case


def test_an_extra_no_property_draws_is_refused():
    with pytest.raises(ValueError, match="no property draws"):
        parse_case(f"{OLD_PREFIX}, extra={{'shift': 1, 'split': 2}})")
    assert parse_case(f"{OLD_PREFIX}, extra={{}})") == CASE


def _spec(**claims):
    mapping = {"name": "roundtrip", "callable": "ropecheck.variants:half_split", "pairing": "half_split",
               "base": "any", "dtypes": ["float32", "float64"], "devices": ["cpu"], "partial_rotary": True}
    return spec_from_mapping({**mapping, **claims}, origin="tests/unit/properties/test_case_setups.py")


SPECS = {"x": _spec(),
         "qk": _spec(signature="qk"), "packed": _spec(packed=True), "mrope": _spec(multi_axis=["mrope"])}


@pytest.mark.parametrize("form", sorted(SPECS))
@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_drawn_case_survives_its_reproduce_line(name, form):
    spec, prop = SPECS[form], BY_NAME[name]
    if prop.applies(spec) is not None:
        pytest.skip(prop.applies(spec))

    @settings(max_examples=10, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def roundtrip(data):
        case = data.draw(prop.strategy(spec))
        assert parse_case(case.repro()) == case

    roundtrip()

"""The catalogue is built by registration: each property is defined, under its own name, in
the module of its check, and ``PROPERTIES`` keeps the order reports and jobs rely on."""

from __future__ import annotations

import pytest

from ropecheck import properties
from ropecheck.properties import BY_NAME, PROPERTIES, register

ORDER = ("oracle_agreement", "relative_position", "norm_preservation", "identity_at_zero", "passthrough_untouched",
         "per_row_positions", "chunked_equals_whole", "memory_layout", "output_contract", "input_not_modified",
         "gradients", "nan_locality", "determinism", "qk_independence", "fused_buffer", "call_history",
         "packed_boundaries")


def test_the_catalogue_keeps_its_order():
    assert tuple(p.name for p in PROPERTIES) == ORDER
    assert list(BY_NAME) == list(ORDER)


@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda p: p.name)
def test_each_property_is_its_check_registered_in_a_module_of_the_package(prop):
    assert prop.check.__name__ == prop.name
    assert prop.check.__module__.startswith("ropecheck.properties.")
    assert not prop.check.__module__.rsplit(".", 1)[1].startswith("_"), "checks live in property modules"


def test_a_name_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register("again", properties.cases)(PROPERTIES[0].check)
    assert properties.catalogue() == PROPERTIES

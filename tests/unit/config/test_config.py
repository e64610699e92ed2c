import pytest

from ropecheck import RopeConfig


def test_defaults_and_frozen():
    config = RopeConfig()
    assert (config.base, config.rotary_dim, config.pairing, config.scaling) == (10000.0, 128, "half_split", None)
    with pytest.raises(AttributeError):
        config.base = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, field, why",
    [
        (dict(rotary_dim=7), "rotary_dim", "even"),
        (dict(rotary_dim=0), "rotary_dim", "positive"),
        (dict(rotary_dim=-4), "rotary_dim", "positive"),
        (dict(rotary_dim=8.0), "rotary_dim", "int"),
        (dict(rotary_dim=130, head_dim=128), "rotary_dim", "larger than head_dim"),
        (dict(base=0.0), "base", "positive"),
        (dict(base=-10000.0), "base", "positive"),
        (dict(base=float("nan")), "base", "finite"),
        (dict(base="10000"), "base", "float"),
        (dict(base=1.0), "base", "same frequency"),
        (dict(pairing="rotate_half"), "pairing", "interleaved"),
        (dict(scaling=["linear"]), "scaling", "mapping"),
        (dict(head_dim=0), "head_dim", "positive"),
    ],
)
def test_invalid_fields_name_the_field_and_why(kwargs, field, why):
    with pytest.raises(ValueError) as info:
        RopeConfig(**kwargs)
    message = str(info.value)
    assert f"RopeConfig.{field}" in message, f"message does not name the field: {message}"
    assert why in message, f"message does not say why ({why!r}): {message}"


def test_scaling_is_read_only_hashable_and_equal_to_its_source():
    source = {"rope_type": "linear", "factor": 2.0}
    config = RopeConfig(scaling=source)
    source["factor"] = 99.0
    assert config.scaling["factor"] == 2.0, "config kept a live reference to the caller's dict"
    assert config.scaling == {"rope_type": "linear", "factor": 2.0}
    assert config.rope_type == "linear"
    with pytest.raises(TypeError):
        config.scaling["factor"] = 3.0  # type: ignore[index]
    assert hash(config) == hash(RopeConfig(scaling={"factor": 2.0, "rope_type": "linear"}))


def test_replace_revalidates():
    config = RopeConfig(rotary_dim=64, head_dim=64)
    assert config.replace(pairing="interleaved").pairing == "interleaved"
    with pytest.raises(ValueError, match="rotary_dim"):
        config.replace(rotary_dim=65)


def test_integer_base_is_stored_as_float():
    assert isinstance(RopeConfig(base=10000).base, float)

"""Spec validation: every usage error names the file, the key and what was expected."""

import pytest

from ropecheck.spec import SpecError, load_spec, spec_from_mapping

GOOD = """
name = "mine"
callable = "my_adapters:rope"
pairing = "half_split"
base = "any"
dtypes = ["float32", "bfloat16"]
devices = ["cpu"]
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_minimal_spec_gets_the_documented_defaults(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert (spec.name, spec.callable, spec.pairing, spec.base) == ("mine", "my_adapters:rope", "half_split", "any")
    assert spec.dtypes == ("float32", "bfloat16") and spec.devices == ("cpu",)
    assert (spec.partial_rotary, spec.inplace, spec.differentiable) == (False, False, True)
    assert spec.max_position == 131072 and spec.requires == () and spec.scaling == ()
    assert spec.folder == str(tmp_path.resolve())


def test_a_float_base_and_all_optional_keys(tmp_path):
    text = GOOD.replace('base = "any"', "base = 10000.0") + """
partial_rotary = true
inplace = true
differentiable = false
max_position = 4096
requires = ["transformers"]
scaling = ["linear", "yarn"]
"""
    spec = load_spec(write(tmp_path, text))
    assert spec.base == 10000.0 and spec.partial_rotary and spec.inplace and not spec.differentiable
    assert spec.max_position == 4096 and spec.requires == ("transformers",) and spec.scaling == ("linear", "yarn")


BAD = [
    ("name = \n", None, "not valid TOML"),
    (GOOD.replace('name = "mine"\n', ""), "name", "required key is missing"),
    (GOOD.replace('devices = ["cpu"]\n', ""), "devices", "required key is missing"),
    (GOOD.replace('"my_adapters:rope"', '"my_adapters.rope"'), "callable", "module:attribute"),
    (GOOD.replace('"half_split"', '"rotate_half"'), "pairing", "expected one of 'interleaved', 'half_split'"),
    (GOOD.replace('"any"', '"10000"'), "base", 'expected "any" or a positive float'),
    (GOOD.replace('"any"', "-5.0"), "base", "positive float other than 1"),
    (GOOD.replace('["float32", "bfloat16"]', '["float32", "fp8"]'), "dtypes", "unknown value 'fp8'"),
    (GOOD.replace('["float32", "bfloat16"]', '"float32"'), "dtypes", "expected an array"),
    (GOOD.replace('["float32", "bfloat16"]', "[]"), "dtypes", "at least one"),
    (GOOD.replace('["cpu"]', '["tpu"]'), "devices", "unknown value 'tpu'"),
    (GOOD + "partial_rotary = 1\n", "partial_rotary", "expected true or false"),
    (GOOD + "inplace = \"no\"\n", "inplace", "expected true or false"),
    (GOOD + "max_position = 0\n", "max_position", "integer in [1, 2**53]"),
    (GOOD + "max_position = 1.5\n", "max_position", "integer"),
    (GOOD + "requires = \"torch\"\n", "requires", "array of module names"),
    (GOOD + "scaling = [\"ntk-by-parts\"]\n", "scaling", "unknown value 'ntk-by-parts'"),
    (GOOD + "rotary_pct = 0.25\n", "rotary_pct", "unknown key"),
    (GOOD + "multi_axis = [\"video\"]\n", "multi_axis", "unknown value 'video'"),
    (GOOD + "multi_axis = \"mrope\"\n", "multi_axis", "expected an array"),
    # a misspelling is answered with the closest key or value
    (GOOD + "paring = \"half_split\"\n", "paring", "unknown key; did you mean 'pairing'? expected one of: name,"),
    (GOOD + "Inplace = true\n", "Inplace", "did you mean 'inplace'?"),
    (GOOD.replace('"half_split"', '"halfsplit"'), "pairing", "got 'halfsplit'; did you mean 'half_split'?"),
    (GOOD.replace('"bfloat16"]', '"bfloat61"]'), "dtypes", "unknown value 'bfloat61'; did you mean 'bfloat16'?"),
    (GOOD + "scaling = [\"yarn\", \"lama3\"]\n", "scaling", "did you mean 'llama3'?"),
]


@pytest.mark.parametrize("text, key, words", BAD, ids=[f"{k}-{w[:20]}" for _, k, w in BAD])
def test_bad_specs_name_file_key_and_expectation(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message, f"message does not name the file: {message}"
    if key:
        assert f"key '{key}'" in message, f"message does not name the key {key!r}: {message}"
    assert words in message, f"message does not say what was expected ({words!r}): {message}"
    assert "\n" not in message, "a usage error is one line"


@pytest.mark.parametrize("line, key", [("zzz = 1\n", "zzz"), ("rotary_pct = 0.25\n", "rotary_pct")])
def test_nothing_is_suggested_when_no_key_is_close(tmp_path, line, key):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, GOOD + line))
    assert f"key '{key}': unknown key; expected one of" in str(info.value)


def test_callable_that_cannot_be_imported_names_the_key(tmp_path):
    spec = load_spec(write(tmp_path, GOOD.replace("my_adapters", "no_such_module_q")))
    with pytest.raises(SpecError, match=r"key 'callable': cannot import module 'no_such_module_q'"):
        spec.load_callable()


def test_callable_is_imported_from_the_spec_folder(tmp_path):
    (tmp_path / "my_adapters.py").write_text("def rope(x, positions, config):\n    return x\nNOT_CALLABLE = 3\n")
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.load_callable().__name__ == "rope"
    other = load_spec(write(tmp_path, GOOD.replace(":rope", ":NOT_CALLABLE"), "b.toml"))
    with pytest.raises(SpecError, match="not a callable"):
        other.load_callable()
    missing = load_spec(write(tmp_path, GOOD.replace(":rope", ":nope"), "c.toml"))
    with pytest.raises(SpecError, match="has no attribute 'nope'"):
        missing.load_callable()


def test_unreadable_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(tmp_path / "absent.toml")


def test_mapping_round_trips():
    mapping = {"name": "n", "callable": "m:f", "pairing": "interleaved", "base": 500000.0,
               "dtypes": ["float64"], "devices": ["cpu", "cuda"]}
    spec = spec_from_mapping(mapping, origin="entry point n")
    assert spec_from_mapping(spec.to_mapping(), origin="again") == spec_from_mapping(spec.to_mapping(), origin="again")
    assert spec.to_mapping()["base"] == 500000.0
    with pytest.raises(SpecError, match="entry point n: expected a mapping"):
        spec_from_mapping(["not", "a", "mapping"], origin="entry point n")

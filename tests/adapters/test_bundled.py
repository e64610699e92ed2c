"""ropecheck.adapters.bundled: an adapter that no longer fits the installed library raises
AdapterMismatch (ropecheck's failure); what the library raises on an input stays as it is
(the library's finding).

Mismatches are made by taking from the installed release what the adapter reaches for
(monkeypatching an attribute, a module or a keyword away), as a new release would.
"""

import importlib
import importlib.metadata
import inspect
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from ropecheck import RopeConfig
from ropecheck.adapters import AdapterMismatch, bundled

ROOT = Path(__file__).resolve().parents[2]
ADAPTER_MODULES = ["fla", "hf", "liger", "lucidrains", "mlx", "qwen2_vl", "torchtune", "x_transformers"]
THIRD_PARTY = ["transformers", "rotary_embedding_torch", "x_transformers", "torchtune", "torchao", "mlx",
               "liger_kernel", "triton", "fla"]
GPTJ = "transformers.models.gptj.modeling_gptj"


def test_the_message_is_one_line_naming_adapter_library_and_what_is_missing():
    exc = AdapterMismatch("ropecheck.adapters.hf:gptj", "transformers 5.24.0",
                          "module transformers.models.gptj.modeling_gptj has no attribute\n'get_embed_positions'")
    assert str(exc) == ("adapter ropecheck.adapters.hf:gptj does not fit transformers 5.24.0: module "
                        "transformers.models.gptj.modeling_gptj has no attribute 'get_embed_positions'; "
                        "the library was not judged")
    assert (exc.adapter, exc.library) == ("ropecheck.adapters.hf:gptj", "transformers 5.24.0")
    again = pickle.loads(pickle.dumps(exc))  # it crosses from a checking process to the engine
    assert (type(again), str(again), again.missing) == (AdapterMismatch, str(exc), exc.missing)


FORMS = (["x", "positions", "config"], ["q", "k", "positions", "config"])
"""The leading parameters of an adapter: docs/contract.md §1 (and §4 packed, which adds ``cu_seqlens``), §4 ``qk``."""


def _adapter_functions():
    """Every public function of ropecheck.adapters.* with an adapter signature (``FORMS``)."""
    for name in ADAPTER_MODULES:
        module = importlib.import_module(f"ropecheck.adapters.{name}")
        for attr, fn in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            params = list(inspect.signature(fn).parameters)
            if any(params[:len(form)] == form for form in FORMS):
                yield f"{module.__name__}:{attr}", fn


def test_every_public_adapter_and_every_bundled_spec_is_bundled():
    found = dict(_adapter_functions())
    assert len(found) == 18, sorted(found)
    unbundled = [name for name, fn in found.items() if not getattr(fn, "bundled_library", None)]
    assert not unbundled, f"not wrapped in @bundled: {unbundled}"
    for path in sorted((ROOT / "specs").glob("*.toml")):
        target = tomllib.loads(path.read_text())["callable"]  # read raw: docs/contract.md §4 keys need no engine
        if target.startswith("ropecheck.adapters."):
            assert target in found, f"{path.name}: {target} is not a public adapter"


def test_importing_every_adapter_imports_no_third_party_library():
    code = ("import sys\n" + "".join(f"import ropecheck.adapters.{m}\n" for m in ADAPTER_MODULES)
            + f"print(sorted(m for m in {THIRD_PARTY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- transformers (HF GPT-J, Llama)


@pytest.fixture
def hf():
    """ropecheck.adapters.hf with its caches emptied before and after (a monkeypatched
    release must not be served from, or left in, a cache)."""
    pytest.importorskip("transformers")
    from ropecheck.adapters import hf

    caches = [hf._modeling, hf._gptj_table, hf._gptj_rotary, hf._llama_rotary]
    for cache in caches:
        cache.cache_clear()
    yield hf
    for cache in caches:
        cache.cache_clear()


def _gptj_call(hf):
    config = RopeConfig(rotary_dim=8, pairing="interleaved", head_dim=16)
    return hf.gptj(torch.ones(1, 2, 1, 16), torch.tensor([[0, 1]]), config)


def _assert_mismatch(info, adapter: str, *missing: str) -> None:
    message = str(info.value)
    version = importlib.metadata.version("transformers")
    assert "\n" not in message
    assert message.startswith(f"adapter {adapter} does not fit transformers {version}: ")
    assert message.endswith("; the library was not judged")
    assert (info.value.adapter, info.value.library) == (adapter, f"transformers {version}")
    for part in missing:
        assert part in info.value.missing, (part, info.value.missing)


def test_a_function_gone_from_the_release_is_a_mismatch(hf, monkeypatch):
    monkeypatch.delattr(importlib.import_module(GPTJ), "apply_rotary_pos_emb")
    with pytest.raises(AdapterMismatch) as info:
        _gptj_call(hf)
    _assert_mismatch(info, "ropecheck.adapters.hf:gptj", f"module {GPTJ} has no attribute 'apply_rotary_pos_emb'")
    assert isinstance(info.value.__cause__, AttributeError)


def test_gptj_with_neither_sin_cos_api_names_the_newest(hf, monkeypatch):
    """A release with neither ``get_embed_positions`` (up to 5.23) nor ``GPTJRotaryEmbedding``
    (5.24 on): the adapter asks for the newer one, and the mismatch names it."""
    modeling = importlib.import_module(GPTJ)
    monkeypatch.delattr(modeling, "get_embed_positions", raising=False)
    monkeypatch.delattr(modeling, "GPTJRotaryEmbedding", raising=False)
    with pytest.raises(AdapterMismatch) as info:
        _gptj_call(hf)
    _assert_mismatch(info, "ropecheck.adapters.hf:gptj", f"module {GPTJ} has no attribute 'GPTJRotaryEmbedding'")


def test_a_module_gone_from_the_release_is_a_mismatch(hf, monkeypatch):
    monkeypatch.setitem(sys.modules, GPTJ, None)  # the import machinery's "no such module"
    with pytest.raises(AdapterMismatch) as info:
        _gptj_call(hf)
    _assert_mismatch(info, "ropecheck.adapters.hf:gptj", f"no module {GPTJ}")


def test_a_keyword_gone_from_the_release_is_a_mismatch(hf, monkeypatch):
    """``LlamaRotaryEmbedding.forward`` of a release that renamed ``position_ids``."""
    llama = importlib.import_module("transformers.models.llama.modeling_llama")
    old_forward = llama.LlamaRotaryEmbedding.forward

    def forward(self, x, positions):
        return old_forward(self, x, positions)

    forward.__qualname__ = "LlamaRotaryEmbedding.forward"
    monkeypatch.setattr(llama.LlamaRotaryEmbedding, "forward", forward)
    config = RopeConfig(rotary_dim=8, head_dim=8)
    with pytest.raises(AdapterMismatch) as info:
        hf.llama(torch.ones(1, 2, 1, 8), torch.tensor([[0, 1]]), config)
    _assert_mismatch(info, "ropecheck.adapters.hf:llama", "transformers.models.llama.modeling_llama."
                     "LlamaRotaryEmbedding.forward() got an unexpected keyword argument 'position_ids'")


def test_a_lookup_answered_by_the_librarys_attribute_hook_is_a_mismatch(hf):
    """transformers' lazy top-level module raises from its own ``__getattr__``: still the
    adapter's lookup, not the library's code failing."""

    @bundled("transformers")
    def reaches(x, positions, config):
        return importlib.import_module("transformers").RotaryEmbeddingOfANewerRelease

    with pytest.raises(AdapterMismatch) as info:
        reaches(None, None, None)
    assert "module transformers has no attribute 'RotaryEmbeddingOfANewerRelease'" in info.value.missing
    assert info.value.adapter.endswith(":test_a_lookup_answered_by_the_librarys_attribute_hook_is_a_mismatch."
                                       "<locals>.reaches")


def test_the_librarys_own_exceptions_on_bad_input_stay_findings(hf):
    """Same exception types, but raised inside transformers' code: not converted."""
    llama = importlib.import_module("transformers.models.llama.modeling_llama")
    modeling = importlib.import_module(GPTJ)

    @bundled("transformers")
    def wrong_config(x, positions, config):
        return llama.LlamaRotaryEmbedding(config=modeling.GPTJConfig())  # reads config.rope_parameters

    @bundled("transformers")
    def no_sin_cos(x, positions, config):
        return modeling.apply_rotary_pos_emb(x, None, None)

    with pytest.raises(AttributeError, match="rope_parameters") as info:
        wrong_config(None, None, None)
    assert not isinstance(info.value, AdapterMismatch)
    with pytest.raises(TypeError, match="NoneType"):
        no_sin_cos(torch.ones(1, 1, 1, 4), None, None)
    # HF's dynamic NTK at head_dim 2 (a pinned finding) through the adapter itself
    scaled = RopeConfig(rotary_dim=2, head_dim=2, scaling={"rope_type": "dynamic", "factor": 4.0,
                                                            "original_max_position_embeddings": 2048})
    with pytest.raises(ZeroDivisionError):
        hf.llama_scaled(torch.ones(1, 1, 1, 2), torch.zeros(1, 1, dtype=torch.int64), scaled)


def test_the_adapters_own_slips_on_other_objects_are_not_blamed_on_the_library(hf):
    """positions as a list: the adapter's ``positions.max()`` fails on a list, not on transformers."""
    config = RopeConfig(rotary_dim=8, pairing="interleaved", head_dim=16)
    with pytest.raises(AttributeError, match="'list' object has no attribute 'max'") as info:
        hf.gptj(torch.ones(1, 2, 1, 16), [[0, 1]], config)
    assert not isinstance(info.value, AdapterMismatch)


def test_a_library_that_is_not_installed_is_not_a_mismatch():
    """No distribution, no release to fit: the ImportError stays (a spec's ``requires`` skips it)."""

    @bundled("ropecheck-no-such-distribution")
    def needs(x, positions, config):
        return importlib.import_module("ropecheck_no_such_distribution")

    with pytest.raises(ModuleNotFoundError):
        needs(None, None, None)


# ---------------------------------------------------------------- torchtune


def test_torchtunes_index_error_stays_a_finding():
    """torchtune's IndexError past ``max_seq_len`` (test_torchtune's finding) through a bundled call."""
    pytest.importorskip("torchtune")
    from torchtune.modules import RotaryPositionalEmbeddings

    @bundled("torchtune")
    def past_the_table(x, positions, config):
        return RotaryPositionalEmbeddings(8, max_seq_len=16)(x, input_pos=positions)

    with pytest.raises(IndexError):
        past_the_table(torch.zeros(1, 1, 1, 8), torch.tensor([[16]]), None)


def test_a_torchtune_class_gone_from_the_release_is_a_mismatch(monkeypatch):
    pytest.importorskip("torchtune")
    import torchtune.modules

    from ropecheck.adapters import torchtune as adapter

    monkeypatch.delattr(torchtune.modules, "RotaryPositionalEmbeddings")
    adapter._module.cache_clear()
    try:
        with pytest.raises(AdapterMismatch) as info:
            adapter.rope(torch.zeros(1, 2, 1, 8), torch.tensor([[0, 1]]), RopeConfig(rotary_dim=8, head_dim=8))
    finally:
        adapter._module.cache_clear()
    version = importlib.metadata.version("torchtune")
    assert str(info.value) == (f"adapter ropecheck.adapters.torchtune:rope does not fit torchtune {version}: "
                               "module torchtune.modules has no 'RotaryPositionalEmbeddings'; "
                               "the library was not judged")

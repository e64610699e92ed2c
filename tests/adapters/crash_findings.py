"""A finding shared by rotary-embedding-torch and x-transformers: ``RotaryEmbedding(dim=2)``
cannot be built (``factor ** (dim / (dim - 2))``), so every property that meets rotary_dim 2
fails with the library's ZeroDivisionError, and nothing else fails."""


def half_precision_positions(p) -> bool:
    """The other finding of rotary-embedding-torch's ``rotate_queries_or_keys``: positions
    formed in the input's dtype, seen only in bfloat16/float16 cases."""
    return "low precision" in p.message and any(f"dtype={d} " in p.counterexample for d in ("bfloat16", "float16"))


def assert_only_the_rotary_dim_2_crash(result, library_file: str, also=lambda p: False) -> None:
    """Every failure of ``result`` is the ZeroDivisionError raised in ``library_file``, or
    one that ``also`` recognises as another documented finding."""
    assert not result.conforms
    failed = [p for p in result.properties if p.status == "failed"]
    assert any(p.name == "oracle_agreement" for p in failed)
    for p in result.properties:
        assert p.status in ("passed", "failed", "skipped"), (p.name, p.status, p.message)
    for p in failed:
        if also(p):
            continue
        assert p.message.startswith("raised ZeroDivisionError: division by zero"), (p.name, p.message)
        assert library_file in p.message, (p.name, p.message)
        assert "rotary_dim=2 " in p.counterexample, (p.name, p.counterexample)

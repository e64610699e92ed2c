"""Benchmarks: ``ropecheck bench`` and ``ropecheck compare``.

One responsibility per module, as in pytest-benchmark: ``sweep`` (shapes and the byte
model), ``timing`` (CPU through pytest-benchmark, GPU through CUDA events), ``run`` (a
sweep into a table, with the copy roofline measured in the same run), ``stats`` (summary
and the regression test), ``table`` (pandas tables with machine metadata), ``plot``.
"""

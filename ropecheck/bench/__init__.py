"""Benchmarks: ``ropecheck bench`` and ``ropecheck compare``.

One responsibility per module, as in pytest-benchmark: ``sweep`` (shapes and the byte
model), ``timing`` (the copy and an implementation interleaved round by round: CPU through
``time.perf_counter``, GPU through CUDA events), ``child`` and ``run`` (a sweep into rows,
one isolated child per implementation, each timing the copy roofline beside it), ``stats``
(summary, the unstable rule and the regression test), ``table`` (pandas tables with
machine metadata), ``plot``; ``pytest_suite`` runs the sweep as a plain pytest-benchmark
suite.
"""

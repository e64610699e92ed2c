"""ropecheck's own CPU per example (issue 13): ``verify half-split --profile ci`` in process,
the implementation's own CPU taken out, divided by the examples Hypothesis ran
(``per_example.measure``). A benchmark like ``test_bench_verify.py``: it records the figures
(``extra_info``, in the JSON of ``--benchmark-json``) and asserts only the verdict and the
number of examples (every property runs all the examples its profile and weight give it).
Run with ``tox -e bench-verify`` or ``pytest tests/benchmarks --benchmark-only``.

For a report and a cProfile top list without pytest::

    PYTHONPATH=. python tests/benchmarks/per_example.py half-split --profile ci --cprofile out.txt
"""

import statistics

import pytest

import per_example
from ropecheck import profiles
from ropecheck.properties import BY_NAME


@pytest.mark.parametrize("name", ["half-split", "dense-matrix"])
def test_own_cpu_per_example_ci_profile(benchmark, name):
    rounds = []
    figures = benchmark.pedantic(lambda: rounds.append(per_example.measure(name, "ci")) or rounds[-1], rounds=3,
                                 iterations=1)
    benchmark.extra_info.update({k: v for k, v in figures.items() if k != "statuses"})
    # the first round in a fresh process pays the imports and caches once; the median is the steady state
    benchmark.extra_info["own_ms_per_example_rounds"] = [r["own_ms_per_example"] for r in rounds]
    benchmark.extra_info["own_ms_per_example_median"] = statistics.median(r["own_ms_per_example"] for r in rounds)
    assert figures["conforms"], figures["statuses"]
    runs = profiles.get("ci").max_examples
    expected = {n: runs * BY_NAME[n].weight for n, status in figures["statuses"].items() if status != "skipped"}
    assert {n: figures["per_property"][n] for n in expected} == expected

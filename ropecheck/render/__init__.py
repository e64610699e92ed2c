"""Output rendering, one module per job (docs/architecture.md, layer 4):

- ``verdicts``: ``verify``'s verdicts as a terminal table, the JSON of docs/contract.md §3,
  and a markdown report.
- ``text``: text and markdown tables, ``printable``, and the one markdown cell escaping.
- ``status``: the status words (passed / FAILED / skipped / ERROR), their order, which
  statuses are failures.
- ``machine``: the one place machine metadata is computed (CPU and GPU names, cores,
  threads, torch / python versions, the commit, a spec's library, a run's provenance), for
  bench rows, the conformance table, verify's JSON and the HTML report.
- ``progress``: verify's live lines on stderr (one per finished property), colour only on a
  terminal and never with ``NO_COLOR``, and the closing summary line.
- ``ci``: verify's verdicts for CI systems: JUnit XML and GitHub Actions annotations.

The HTML report page itself (``ropecheck report``) is still ``ropecheck.visual``.
This package's ``__init__`` imports nothing, so ``ropecheck.render.text`` stays light.
"""

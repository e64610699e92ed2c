"""Moved to ``ropecheck.render.verdicts`` (rendering named for its job); this name is kept
for importers and re-exports it."""

from ropecheck.render.verdicts import (  # noqa: F401
    MARK, _cell, _columns, failures, json_report, markdown_report, matrix_rows, text_report, verdict,
)

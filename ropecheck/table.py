"""Moved to ``ropecheck.render.text`` (rendering named for its job); this name is kept for
importers and re-exports it. Imports nothing of ropecheck but that module, which imports nothing."""

from ropecheck.render.text import literal_label, markdown_cell, markdown_table, printable, text_table  # noqa: F401

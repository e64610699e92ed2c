"""``ropecheck.render.text``: one markdown cell escaping, used by every markdown table."""

from ropecheck.render import text


def test_markdown_cell_keeps_a_cell_one_cell_on_one_line():
    assert text.markdown_cell("a|b") == "a\\|b"
    assert text.markdown_cell("one\ntwo\r\nthree") == "one two  three"
    assert text.markdown_cell("back\\slash") == "back\\\\slash"
    assert text.markdown_cell("a\\|b") == "a\\\\\\|b"  # the backslash cannot swallow the escape
    assert text.markdown_cell("`code | pipe`") == "`code \\| pipe`"  # backticks kept, the pipe escaped
    assert text.markdown_cell("\x1b[31mred") == "\\x1b[31mred"  # no terminal codes
    assert text.markdown_cell(3.5) == "3.5"


def test_markdown_cell_leaves_ordinary_text_alone():
    for plain in ("half-split", "cpu:passed cuda:FAILED", "DOES NOT CONFORM", "–", "hf-llama (transformers==4.1)"):
        assert text.markdown_cell(plain) == plain


def test_every_markdown_table_escapes_with_markdown_cell():
    from ropecheck.visual import page

    header, rows = ["name", "status"], [["a|b\nc", "FAILED"], ["x\\", "passed"]]
    expected = "\n".join(["| name | status |", "|---|---|", "| a\\|b c | FAILED |", "| x\\\\ | passed |"])
    assert text.markdown_table(header, rows) == expected
    md = page.to_markdown("t", "i", [page.Section("s", "S", [page.Table(header, rows)])])
    assert expected in md


def test_old_module_names_re_export_the_new_ones():
    from ropecheck import report, table
    from ropecheck.render import verdicts

    for name in ("printable", "literal_label", "text_table", "markdown_table", "markdown_cell"):
        assert getattr(table, name) is getattr(text, name)
    for name in ("verdict", "text_report", "json_report", "markdown_report", "matrix_rows", "failures", "MARK"):
        assert getattr(report, name) is getattr(verdicts, name)

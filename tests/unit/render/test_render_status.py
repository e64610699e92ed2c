"""``ropecheck.render.status``: the status words, defined once."""

from ropecheck import runner
from ropecheck.render import status, verdicts
from ropecheck.visual import data, page


def test_the_words_cover_exactly_the_checking_layers_statuses():
    assert status.ORDER == runner.STATUSES
    assert set(status.WORD) == set(runner.STATUSES)
    assert set(status.BAD) <= set(status.ORDER)


def test_verdicts_the_report_page_and_the_matrix_use_the_same_words():
    assert verdicts.MARK is status.WORD and data.STATUS_WORD is status.WORD
    for s in status.ORDER:
        assert page._cell_class(status.word(s)) == f' class="{status.WORD[s]}"'
    assert page._cell_class("conforms") == ""
    assert status.word("weird") == "weird"


def test_conformance_matrix_shows_the_words():
    import pandas as pd

    table = pd.DataFrame({"implementation": ["a", "a"], "version": ["v", "v"], "device": ["cpu", "cpu"],
                          "dtype": ["float32", "float32"], "property": ["p", "q"], "status": ["failed", "error"]})
    header, rows = data.conformance_matrix(table)
    assert header[-2:] == ["p", "q"] and rows == [["a", "v", "cpu", "float32", "FAILED", "ERROR"]]
    assert len(data.conformance_failures(table)) == 2

"""verify's live progress: a line per finished property with its examples and time, the
failure's cause with -v, colour only on a terminal and never with NO_COLOR, and a closing
summary that counts every status."""

import io

import pytest

from ropecheck.engine import ImplementationResult
from ropecheck.render import progress
from ropecheck.runner import PropertyResult


class Terminal(io.StringIO):
    def isatty(self):
        super().isatty()  # ValueError once closed, as a real stream
        return True


PASSED = PropertyResult("oracle_agreement", "passed", device="cpu", examples=100, duration=1.234)
FAILED = PropertyResult("gradients", "failed", "the backward is not the inverse rotation", "shape=(1, 2, 1, 8)",
                        device="cpu", reproduce="python -m ropecheck.repro mine.toml gradients --case '...'",
                        examples=1, duration=0.5)
SKIPPED = PropertyResult("fused_buffer", "skipped", "not applicable: the spec has signature = \"x\"", device="cpu")


@pytest.mark.parametrize("environ, tty, wanted", [
    ({}, True, True),
    ({}, False, False),  # a pipe or a CI log file
    ({"NO_COLOR": "1"}, True, False),
    ({"NO_COLOR": ""}, True, True),  # no-color.org: set and not empty
    ({"TERM": "dumb"}, True, False),
])
def test_colour_only_on_a_terminal_and_never_with_no_color(environ, tty, wanted):
    stream = Terminal() if tty else io.StringIO()
    assert progress.colour_wanted(stream, environ) is wanted


def test_a_closed_stream_gets_no_colour():
    stream = Terminal()
    stream.close()
    assert progress.colour_wanted(stream, {}) is False
    assert progress.colour_wanted(object(), {}) is False  # no isatty at all


def test_the_line_names_property_device_verdict_examples_and_time():
    assert progress.property_line("mine", PASSED) == "  mine · oracle_agreement [cpu] passed   100 examples  1.23 s"
    assert progress.property_line("mine", FAILED) == "  mine · gradients [cpu] FAILED   1 example  0.50 s"
    assert progress.property_line("mine", SKIPPED) == ('  mine · fused_buffer [cpu] skipped  (not applicable: the spec '
                                                       'has signature = "x")')


def test_verbose_adds_the_cause_and_the_reproduce_line_of_a_failure_only():
    lines = progress.property_line("mine", FAILED, verbosity=progress.VERBOSE).splitlines()
    assert lines[1:] == ["      the backward is not the inverse rotation",
                         "      reproduce: python -m ropecheck.repro mine.toml gradients --case '...'"]
    assert "\n" not in progress.property_line("mine", PASSED, verbosity=progress.VERBOSE)


def test_only_the_status_word_is_coloured_and_names_cannot_colour_the_terminal():
    line = progress.property_line("evil\033[2J", FAILED, colour=True)
    assert "\033[1;31mFAILED\033[0m" in line
    assert "\033[2J" not in line and "\\x1b[2J" in line
    assert "\033" not in progress.property_line("mine", FAILED, colour=False)


def test_the_summary_counts_every_status_and_the_time():
    results = [ImplementationResult("a", "a.toml", [PASSED, SKIPPED]), ImplementationResult("b", "b.toml", [FAILED])]
    assert (progress.summary_line(results, 3.21)
            == "1 of 2 implementations conform (1 passed, 1 failed, 1 skipped) in 3.2 s")
    errored = [ImplementationResult("c", "c.toml", [PropertyResult("determinism", "error", "could not judge")])]
    assert progress.summary_line(errored, 0.04) == "0 of 1 implementations conform (0 passed, 0 failed, 1 error) in 0.0 s"

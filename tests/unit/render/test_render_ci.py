"""verify's verdicts for CI systems: JUnit XML that a JUnit reader parses (a testcase per
property and device, classname naming the implementation, per-case time, failure text with
the reproduce line) and GitHub Actions error annotations on the spec file."""

import xml.etree.ElementTree as ET

from ropecheck.engine import ImplementationResult
from ropecheck.render import ci
from ropecheck.runner import PropertyResult

FAILED = PropertyResult("oracle_agreement", "failed", "disagrees with the oracle: positions off by +1",
                        "shape=(1, 2, 1, 8) dtype=float32", device="cpu",
                        reproduce="python -m ropecheck.repro mine.toml oracle_agreement --case 'x'", examples=9,
                        duration=0.25)
PASSED = PropertyResult("norm_preservation", "passed", device="cpu", examples=25, duration=0.75)
SKIPPED = PropertyResult("fused_buffer", "skipped", "not applicable: signature x", device="cpu")
ERROR = PropertyResult("determinism", "error", "ropecheck error while checking: boom", device="cuda")
RESULTS = [ImplementationResult("mine", "specs/mine.toml", [FAILED, PASSED, SKIPPED, ERROR]),
           ImplementationResult("half-split", "built-in ropecheck.variants.half_split", [PASSED])]


def test_junit_has_a_case_per_property_and_device_with_its_time_and_class():
    root = ET.fromstring(ci.junit_xml(RESULTS, 3.5))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "1", "1")
    assert suite.get("time") == "3.500"
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("ropecheck.mine", "oracle_agreement[cpu]", "0.250"), ("ropecheck.mine", "norm_preservation[cpu]", "0.750"),
        ("ropecheck.mine", "fused_buffer[cpu]", "0.000"), ("ropecheck.mine", "determinism[cuda]", "0.000"),
        ("ropecheck.half-split", "norm_preservation[cpu]", "0.750")]
    assert cases[0].get("file") == "specs/mine.toml" and cases[4].get("file") is None  # a built-in has no file
    failure = cases[0].find("failure")
    assert failure.get("message") == FAILED.message
    assert "counterexample: shape=(1, 2, 1, 8)" in failure.text and "reproduce: python -m ropecheck.repro" in failure.text
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    assert cases[2].find("skipped").get("message") == "not applicable: signature x"
    assert cases[3].find("error").get("message") == "ropecheck error while checking: boom"


def test_junit_stays_readable_whatever_the_implementation_wrote():
    nasty = PropertyResult("oracle_agreement", "failed", "raised ValueError: \x00\x1b[2J <&>\"", device="cpu")
    root = ET.fromstring(ci.junit_xml([ImplementationResult("x\x07", "x.toml", [nasty])], 1.0))
    case = root.find("testsuite/testcase")
    assert case.get("classname") == "ropecheck.x\\x07"
    assert case.find("failure").get("message") == 'raised ValueError: \\x00\\x1b[2J <&>"'


def test_github_annotations_point_at_the_spec_file_and_escape_their_data():
    lines = ci.github_annotations(RESULTS)
    assert lines == [
        "::error file=specs/mine.toml,title=ropecheck%3A mine oracle_agreement [cpu] failed::disagrees with the oracle: "
        "positions off by +1%0Areproduce: python -m ropecheck.repro mine.toml oracle_agreement --case 'x'",
        "::error file=specs/mine.toml,title=ropecheck%3A mine determinism [cuda] error::ropecheck error while checking: boom",
    ]
    built_in = ImplementationResult("half-split", "built-in ropecheck.variants.half_split", [FAILED])
    assert ci.github_annotations([built_in])[0].startswith("::error title=ropecheck%3A half-split oracle_agreement")
    percent = ImplementationResult("a,b", "a.toml", [PropertyResult("gradients", "failed", "100% wrong\r\n", device="cpu")])
    assert ci.github_annotations([percent]) == ["::error file=a.toml,title=ropecheck%3A a%2Cb gradients [cpu] failed::"
                                                "100%25 wrong\\r%0A"]

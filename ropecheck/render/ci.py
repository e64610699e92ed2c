"""``verify``'s verdicts in the formats CI systems read: JUnit XML (``--junitxml``, what
Jenkins, GitLab and most test reporters show, the same form pytest writes) and GitHub Actions
error annotations (printed when ``GITHUB_ACTIONS=true``, pointing at the spec file).

JUnit: one ``<testsuite name="ropecheck">``; a ``<testcase>`` per (implementation, property,
device) with ``classname="ropecheck.<implementation>"``, ``name="<property>[<device>]"``,
``file`` the spec file (when there is one) and ``time`` the property's duration; a failed
property carries ``<failure message=cause>`` (counterexample and reproduce line in its text),
an ``error`` one ``<error>``, a skipped one ``<skipped message=reason>``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from ropecheck.render.text import printable


def spec_file(origin: str) -> str | None:
    """The spec's file from an implementation's ``origin`` ("mine.toml", "built-in ...",
    "entry point NAME"), or None when it did not come from a file."""
    if not origin or origin.startswith(("built-in", "entry point")):
        return None
    return origin  # the path as the user gave it (relative to the directory verify ran in)


def _clean(text: str) -> str:
    """``text`` that XML 1.0 can hold: control characters shown escaped (``printable``), so a
    message an implementation wrote cannot make the file unreadable."""
    return printable(str(text))


def junit_xml(results, seconds: float) -> str:
    """The JUnit XML document of ``results`` (``engine.ImplementationResult`` objects) for a run
    that took ``seconds``."""
    rows = [(r, p) for r in results for p in r.properties]
    suite = ET.Element("testsuite", {
        "name": "ropecheck", "tests": str(len(rows)),
        "failures": str(sum(p.status == "failed" for _, p in rows)),
        "errors": str(sum(p.status == "error" for _, p in rows)),
        "skipped": str(sum(p.status == "skipped" for _, p in rows)),
        "time": f"{seconds:.3f}", "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname()})
    for result, row in rows:
        attributes = {"classname": f"ropecheck.{_clean(result.name)}", "name": f"{row.name}[{row.device}]",
                      "time": f"{row.duration:.3f}"}
        file = spec_file(result.origin)
        if file:
            attributes["file"] = _clean(file)
        case = ET.SubElement(suite, "testcase", attributes)
        if row.status in ("failed", "error"):
            detail = ET.SubElement(case, "failure" if row.status == "failed" else "error",
                                   {"message": _clean(row.message), "type": row.status})
            detail.text = _clean("\n".join(part for part in (
                row.message, row.counterexample and f"counterexample: {row.counterexample}",
                row.reproduce and f"reproduce: {row.reproduce}") if part))
        elif row.status == "skipped":
            ET.SubElement(case, "skipped", {"message": _clean(row.message)})
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(results) -> list[str]:
    """A ``::error`` workflow command per failed or errored property, naming the spec file
    (GitHub shows it on that file in the pull request) and titled with the implementation,
    property and device; the message is the cause and the reproduce line."""
    lines = []
    for result in results:
        file = spec_file(result.origin)
        for row in result.properties:
            if row.status not in ("failed", "error"):
                continue
            props = ([f"file={_escape_property(printable(file))}"] if file else []) + [
                f"title={_escape_property(printable(f'ropecheck: {result.name} {row.name} [{row.device}] {row.status}'))}"]
            message = row.message + (f"\nreproduce: {row.reproduce}" if row.reproduce else "")
            lines.append(f"::error {','.join(props)}::{_escape_data(printable(message))}")
    return lines

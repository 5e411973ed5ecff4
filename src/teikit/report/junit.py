"""The ``junit`` format: JUnit XML as GitLab, Jenkins and the GitHub test-report actions read it.

One ``<testsuite name="teikit validate">`` (inside ``<testsuites>``, as pytest writes it)
with one ``<testcase>`` per file. A file with errors has one ``<failure>`` whose ``type`` is
its first error code and whose text lists every finding of the file; a file with only
warnings or notes passes and lists them in ``<system-out>``. The document is built with lxml,
so every value is escaped, and characters XML 1.0 cannot carry are dropped. Non-ASCII text is
written as character references, so the output is correct whatever the stream's encoding.
"""

from __future__ import annotations

from typing import TextIO

from lxml import etree

from teikit.diagnostics import FileResult, Severity
from teikit.report._common import finding_line, plural, xml_safe
from teikit.runner import Run

SUITE_NAME = "teikit validate"
CLASSNAME = "teikit"


def _testcase(result: FileResult) -> tuple[etree._Element, bool]:
    """The ``<testcase>`` for one file and whether it failed."""
    path = xml_safe(result.path)
    case = etree.Element("testcase", classname=CLASSNAME, name=path, file=path)
    listing = "\n".join(xml_safe(finding_line(d)) for d in result.diagnostics)
    errors = [d for d in result.diagnostics if d.severity >= Severity.ERROR]
    failed = result.failed()
    if failed:
        failure = etree.SubElement(
            case,
            "failure",
            type=xml_safe(errors[0].code),
            message=plural(len(errors), "error"),
        )
        failure.text = listing + "\n"
    elif result.diagnostics:
        etree.SubElement(case, "system-out").text = listing + "\n"
    return case, failed


def junit_report(run: Run, stream: TextIO, colour: bool = False) -> None:
    """JUnit XML: one test case per file; a file with errors is a failure."""
    cases = [_testcase(r) for r in run.results]
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(1 for _, failed in cases if failed)),
        "errors": "0",
        "skipped": "0",
        "time": f"{run.summary.seconds:.3f}",
    }
    root = etree.Element("testsuites", name="teikit")
    suite = etree.SubElement(root, "testsuite", name=SUITE_NAME)
    for element in (root, suite):
        for key, value in counts.items():
            element.set(key, value)
    suite.extend(case for case, _ in cases)
    body = etree.tostring(root, encoding="us-ascii", xml_declaration=False, pretty_print=True)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(body.decode("ascii"))

"""The child process that checks one implementation on one device.

Run by ``ropecheck.engine`` as ``python -m ropecheck.worker JOB.json``. It appends one JSON
line per event to the job's ``out`` file and flushes it at once, so a crash or a hang
loses at most the property in flight:

    {"event": "start", "name": P}
    {"event": "result", ...PropertyResult...}
    {"event": "done"}
"""

from __future__ import annotations

import json
import os
import sys

from ropecheck import profiles
from ropecheck.properties import BY_NAME, Subject
from ropecheck.runner import run_property
from ropecheck.spec import spec_from_mapping


def _emit(handle, event: dict) -> None:
    handle.write(json.dumps(event) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def main(job_path: str) -> int:
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    spec = spec_from_mapping(job["spec"], origin=job["origin"], folder=job.get("folder"))
    settings = profiles.get(job["profile"])
    with open(job["out"], "a", encoding="utf-8") as out:
        fn = spec.load_callable()
        subject = Subject(fn=fn, spec=spec, device=job["device"])
        for name in job["properties"]:
            _emit(out, {"event": "start", "name": name})
            result = run_property(BY_NAME[name], subject, settings, job["spec_ref"])
            _emit(out, {"event": "result", **result.to_json()})
        _emit(out, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

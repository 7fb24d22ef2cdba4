"""A scorer pattern learned from long error messages matches the errors it was learned from.

Error labels are clipped at 80 characters (``embeddings.error_kind``); a label clipped inside a mask
("... <str>: <st") used to become the literal "<st" in the pattern, so the most common error of the
demo (an SDK's ``Error code: 529 - {...}`` dict) was counted in the preview and matched by nothing.
"""

from __future__ import annotations

import json
import re

import polars as pl

from loop_jupyter.analysis.scorers import pattern_from_errors

LONG = [
    "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}, "
    f"'request_id': 'req_{i:014d}'}}"
    for i in range(6)
] + [
    "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'This request "
    f"would exceed the rate limit of {i} input tokens per minute'}}, 'request_id': 'req_{i:014d}'}}"
    for i in range(4)
]


def test_a_clipped_label_still_matches_its_errors() -> None:
    frame = pl.DataFrame({"error": [json.dumps(e) for e in LONG] + [json.dumps("timeout after 30 s")]})
    pattern, common = pattern_from_errors(frame)
    assert "<st" not in pattern and "<" not in pattern.replace("(?:", "")
    compiled = re.compile(pattern, re.IGNORECASE)
    counted = dict(common)
    long_label = next(k for k in counted if k.startswith("Error code"))
    assert counted[long_label] == len(LONG)  # one group: the clipped labels are the same
    assert all(compiled.search(e) for e in LONG)
    assert compiled.search("timeout after 30 s")

"""Go-style messages for bad regular expressions in label matchers.

Prometheus compiles ``=~``/``!~`` values with Go's ``regexp`` as
``^(?s:VALUE)$`` and reports Go's error text, e.g.
``error parsing regexp: missing closing ): `^(?s:()$```. We compile with
RE2 (same syntax family); this module translates RE2's error codes into Go's
wording so that error messages match on the common cases. Unknown codes fall
back to RE2's own text.
"""

from __future__ import annotations

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.dot_nl = True

# RE2 description -> (Go description, how to render the Go "expr" part)
_GO = {
    "missing )": ("missing closing )", "whole"),
    "unexpected )": ("unexpected )", "whole"),
    "missing ]": ("missing closing ]", "tail"),
    "no argument for repetition operator": ("missing argument to repetition operator", "arg"),
    "bad repetition operator": ("invalid nested repetition operator", "arg"),
    "invalid repetition size": ("invalid repeat count", "arg"),
    "invalid escape sequence": ("invalid escape sequence", "arg"),
    "invalid character class range": ("invalid character class range", "arg"),
    "invalid character class": ("invalid character class", "arg"),
    "invalid named capture group": ("invalid named capture", "arg"),
    "invalid perl operator": ("invalid or unsupported Perl syntax", "arg"),
    "invalid UTF-8": ("invalid UTF-8", "arg"),
    "bad named capture group": ("invalid named capture", "arg"),
}


def regex_error_message(pattern: str) -> str:
    """The message Prometheus would give for an invalid matcher regex ``pattern``."""
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        raw = e.args[0] if e.args else str(e)
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    else:
        return f"error parsing regexp: invalid regular expression `{pattern}`"
    desc, _, arg = reason.partition(": ")
    if desc.startswith("trailing \\"):
        return "error parsing regexp: trailing backslash at end of expression: ``"
    if desc not in _GO:
        return f"error parsing regexp: {reason}"
    go_desc, how = _GO[desc]
    if how == "whole":
        arg = f"^(?s:{pattern})$"
    elif how == "tail":
        arg = f"{arg})$"
    return f"error parsing regexp: {go_desc}: `{arg}`"

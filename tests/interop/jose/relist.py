"""Rewrites the case lists of the `cases!` macro in tests/interop_jose.rs
from the fixture files, after a regeneration added or renamed cases
(`every_case_has_a_test` fails until this has run). Standard library only.

    python3 tests/interop/jose/relist.py && cargo fmt --all
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.join(HERE, "..", "..", "interop_jose.rs")
FILES = [("jose_node", "jose-node.json"), ("python", "python.json")]

text = open(TEST, encoding="utf-8").read()
for module, fixture in FILES:
    with open(os.path.join(HERE, fixture), encoding="utf-8") as f:
        names = [c["name"] for c in json.load(f)["cases"]]
    body = "".join(f"        {n},\n" for n in names)
    pattern = r'(    %s: "%s" => \[\n)(.*?)(    \];)' % (module, re.escape(fixture))
    text, n = re.subn(pattern, lambda m: m.group(1) + body + m.group(3), text, flags=re.S)
    if n != 1:
        raise SystemExit(f"no `{module}: \"{fixture}\" => [...]` list in {TEST}")
with open(TEST, "w", encoding="utf-8") as f:
    f.write(text)
print("relisted", ", ".join(f for _, f in FILES))

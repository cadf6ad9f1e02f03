#!/usr/bin/env python3
"""Verifies the tokens edge-auth minted (cases.json) with PyJWT and
cryptography (pinned in requirements.txt), each with its case's settings:
issuer, audience, the pinned algorithms, required claims, leeway 0. Writes
python.json: one verdict per case, `valid` or `invalid: <exception>`.
Offline once the venv exists; CI does not run it (see README.md).

    /tmp/mint-venv/bin/python tests/interop/mint/verify_python.py

PyJWT reads the clock; it is set to each case's `now`.
"""

import json
import os
from datetime import datetime, timezone
from importlib.metadata import version

import jwt
import jwt.api_jwt as api_jwt

HERE = os.path.dirname(os.path.abspath(__file__))


def frozen(now):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz or timezone.utc)

    return Frozen


def verify(case):
    s = case["settings"]
    jwks = jwt.PyJWKSet.from_dict(case["jwks"])
    kid = jwt.get_unverified_header(case["token"]).get("kid")
    keys = [k for k in jwks.keys if k.key_id == kid]
    if len(keys) != 1:
        raise LookupError(f"no key with kid {kid!r}")
    api_jwt.datetime = frozen(case["now"])
    jwt.decode(
        case["token"],
        key=keys[0],
        algorithms=s["algorithms"],
        audience=s["audience"],
        issuer=s["issuer"],
        leeway=0,
        options={"require": s["required_claims"]},
    )


def main():
    with open(os.path.join(HERE, "cases.json")) as f:
        cases = json.load(f)["cases"]
    verdicts = {}
    for case in cases:
        try:
            verify(case)
            verdicts[case["name"]] = "valid"
        except Exception as e:  # the verdict is the exception's class
            verdicts[case["name"]] = f"invalid: {type(e).__name__}"
    out = {
        "generator": f"PyJWT {version('PyJWT')}, cryptography {version('cryptography')}",
        "verdicts": verdicts,
    }
    with open(os.path.join(HERE, "python.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    for name, v in verdicts.items():
        print(f"{name}: {v}")


if __name__ == "__main__":
    main()

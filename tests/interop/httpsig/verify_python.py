#!/usr/bin/env python3
"""Verifies fixture messages with pyauth's `http-message-signatures` (pinned in
requirements.txt): by default ours.json (signed by edge-auth), one result per
case (each label listed). Offline once the venv exists; CI does not run it.

    /tmp/sfvenv/bin/python verify_python.py [file.json ...]

The library reads the clock; it is set to each case's `now`. The body is
passed whenever content-digest is covered, so the library checks it (RFC 9530).
"""

import base64
import datetime
import json
import os
import sys
import types
import warnings
from importlib.metadata import version

import http_sf
import http_message_signatures.signatures as signatures_module
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms

from generate_python import Headers, Request, Response

# Labels are chosen from the fixture, as edge-auth is configured; no tag needed.
warnings.filterwarnings("ignore", message="Using only a label")

ALGS = {
    "hmac-sha256": algorithms.HMAC_SHA256,
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
}


def b64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def public_key(k):
    if k["alg"] == "hmac-sha256":
        return base64.b64decode(k["secret_b64"])
    jwk = k["jwk"]
    if jwk["kty"] == "OKP":
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))
    if jwk["kty"] == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[jwk["crv"]]
        x, y = (int.from_bytes(b64url(jwk[c]), "big") for c in "xy")
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    n, e = (int.from_bytes(b64url(jwk[c]), "big") for c in "ne")
    return rsa.RSAPublicNumbers(e, n).public_key()


def at(now: int):
    """A `datetime` module whose clock reads `now`."""

    class Fixed(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(now, tz or datetime.timezone.utc)

    shim = types.SimpleNamespace(**{n: getattr(datetime, n) for n in dir(datetime) if not n.startswith("_")})
    shim.datetime = Fixed
    return shim


def message(m):
    if "status" in m:
        r = m.get("request")
        req = Request(r["method"], r["uri"], r["headers"]) if r else None
        return Response(m["status"], m["headers"], req)
    return Request(m["method"], m["uri"], m["headers"])


def verify_label(c, label, inputs):
    member, params = inputs[label]
    k = c["keys"].get(params.get("keyid"))
    if k is None:
        return "error: unknown keyid"
    verifier = HTTPMessageVerifier(
        signature_algorithm=ALGS[k["alg"]],
        key_resolver=MappingKeyResolver(public_keys={params["keyid"]: public_key(k)}, private_keys={}),
    )
    verifier.allow_label_only_selection = True
    covered = [name for name, _ in member]
    body = c["message"].get("body", "").encode() if "content-digest" in covered else None
    signatures_module.datetime = at(c["now"])
    try:
        verifier.verify(message(c["message"]), max_age=None, expect_label=label, body=body)
        return "valid"
    except Exception as e:  # noqa: BLE001 - any refusal is a result here
        return f"error: {type(e).__name__}: {e}"
    finally:
        signatures_module.datetime = datetime


def main():
    files = sys.argv[1:] or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "ours.json")]
    bad = 0
    for file in files:
        with open(file) as f:
            doc = json.load(f)
        print(f"# {os.path.basename(file)} ({doc['library']}) verified by http-message-signatures=={version('http-message-signatures')}")
        for c in doc["cases"]:
            lines = [v for n, v in Headers(c["message"]["headers"]).items() if n.lower() == "signature-input"]
            inputs = http_sf.parse(", ".join(lines).encode(), tltype="dictionary")
            wanted = (c.get("verifier") or {}).get("label")
            labels = [wanted] if wanted else list(inputs)
            results = [f"[{label}] {verify_label(c, label, inputs)}" for label in labels]
            valid = any(r.endswith("] valid") for r in results)
            agrees = valid == (c["expect"] == "valid")
            bad += not agrees
            print(f"{'ok  ' if agrees else 'DIFF'} {c['name']}: {', '.join(results)} (edge-auth: {c['expect']})")
    print(f"{bad} disagreement(s)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates python.json: messages signed by pyauth's `http-message-signatures`
(pinned in requirements.txt) for tests/interop_httpsig.rs. Offline once the
venv exists; CI does not run it. Fresh keys on every run.

    python3 -m venv /tmp/sfvenv && /tmp/sfvenv/bin/pip install -r requirements.txt
    /tmp/sfvenv/bin/python generate_python.py
"""

import base64
import datetime
import hashlib
import json
import os
import secrets
import sys
from importlib.metadata import version

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

LIB = f"http-message-signatures=={version('http-message-signatures')} (python {sys.version.split()[0]}, http-sf=={version('http-sf')})"
NOW = 1795428000
CREATED = NOW - 30
EXPIRES = CREATED + 300
UTC = datetime.timezone.utc


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def int_bytes(i: int, size: int | None = None) -> bytes:
    return i.to_bytes(size or (i.bit_length() + 7) // 8, "big")


# ------------------------------------------------------------------ keys

KEYS: dict = {}
PRIVATE: dict = {}
ALGS: dict = {}

hmac_secret = secrets.token_bytes(32)
KEYS["hmac-key"] = {"alg": "hmac-sha256", "secret_b64": base64.b64encode(hmac_secret).decode()}
PRIVATE["hmac-key"] = hmac_secret
ALGS["hmac-key"] = algorithms.HMAC_SHA256
WRONG_KEY = {"alg": "hmac-sha256", "secret_b64": base64.b64encode(secrets.token_bytes(32)).decode()}

ed = ed25519.Ed25519PrivateKey.generate()
KEYS["ed25519-key"] = {
    "alg": "ed25519",
    "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(ed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))},
}
PRIVATE["ed25519-key"] = ed
ALGS["ed25519-key"] = algorithms.ED25519

for keyid, alg, curve, crv, size in [
    ("p256-key", algorithms.ECDSA_P256_SHA256, ec.SECP256R1(), "P-256", 32),
    ("p384-key", algorithms.ECDSA_P384_SHA384, ec.SECP384R1(), "P-384", 48),
]:
    k = ec.generate_private_key(curve)
    n = k.public_key().public_numbers()
    KEYS[keyid] = {
        "alg": alg.algorithm_id,
        "jwk": {"kty": "EC", "crv": crv, "x": b64url(int_bytes(n.x, size)), "y": b64url(int_bytes(n.y, size))},
    }
    PRIVATE[keyid] = k
    ALGS[keyid] = alg

for keyid, alg in [("rsa-pss-key", algorithms.RSA_PSS_SHA512), ("rsa-v15-key", algorithms.RSA_V1_5_SHA256)]:
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = k.public_key().public_numbers()
    KEYS[keyid] = {"alg": alg.algorithm_id, "jwk": {"kty": "RSA", "n": b64url(int_bytes(n.n)), "e": b64url(int_bytes(n.e))}}
    PRIVATE[keyid] = k
    ALGS[keyid] = alg

RESOLVER = MappingKeyResolver(public_keys={}, private_keys=PRIVATE)

# ------------------------------------------------------------------ messages


def wire(v: str) -> str:
    """Fixture text (UTF-8) -> the library's view of field bytes (Latin-1)."""
    return v.encode("utf-8").decode("latin-1")


def text(v: str) -> str:
    return v.encode("latin-1").decode("utf-8")


class Headers:
    """Field lines in order, as the library's header protocol wants them."""

    def __init__(self, pairs):
        self.pairs = [[n, wire(v)] for n, v in pairs]

    def fixture(self):
        return [[n, text(v)] for n, v in self.pairs]

    def items(self):
        return [(n, v) for n, v in self.pairs]

    def __iter__(self):
        return iter(dict.fromkeys(n for n, _ in self.pairs))

    def __contains__(self, name):
        return any(n.lower() == name.lower() for n, _ in self.pairs)

    def __setitem__(self, name, value):
        self.__delitem__(name)
        self.pairs.append([name.lower(), value])

    def __delitem__(self, name):
        self.pairs = [p for p in self.pairs if p[0].lower() != name.lower()]


class Request:
    def __init__(self, method, url, pairs):
        self.method, self.url, self.headers = method, url, Headers(pairs)


class Response:
    def __init__(self, status, pairs, request):
        self.status_code, self.headers, self.request = status, Headers(pairs), request


def content_digest(body: bytes, algs=("sha-256",)) -> str:
    return ", ".join(f"{a}=:{base64.b64encode(hashlib.new(a.replace('-', ''), body).digest()).decode()}:" for a in algs)


BODY = '{"hello": "world"}'


def request(uri="https://example.com/foo?param=Value&Pet=dog", method="POST", body=BODY, headers=None, digest_algs=("sha-256",)):
    h = list(headers or [["host", "example.com"], ["date", "Tue, 24 Nov 2026 08:39:30 GMT"], ["content-type", "application/json"]])
    if body is not None:
        h.append(["content-digest", content_digest(body.encode(), digest_algs)])
    m = {"method": method, "uri": uri, "headers": h}
    if body is not None:
        m["body"] = body
    return m


def as_request(m):
    return Request(m["method"], m["uri"], m["headers"])


def sign(m, fields, keyid="hmac-key", label="sig1", append=False, **kw):
    """Signs the fixture message `m` and returns it with the new fields."""
    signer = HTTPMessageSigner(signature_algorithm=ALGS[keyid], key_resolver=RESOLVER)
    if "status" in m:
        obj = Response(m["status"], m["headers"], as_request(m["request"]))
    else:
        obj = as_request(m)
    kw.setdefault("use_existing_digest", "content-digest" in obj.headers)
    kw.setdefault("created", datetime.datetime.fromtimestamp(CREATED, UTC))
    kw.setdefault("expires", datetime.datetime.fromtimestamp(EXPIRES, UTC))
    signer.sign(obj, key_id=keyid, label=label, covered_component_ids=fields, append_if_signature_exists=append, **kw)
    return {**m, "headers": obj.headers.fixture()}


CASES = []


def add(name, description, message, keyids, expect, now=NOW, keys=None, verifier=None, note=None):
    case = {
        "name": name,
        "description": description,
        "message": message,
        "keys": keys or {k: KEYS[k] for k in keyids},
        "expect": expect,
        "now": now,
    }
    if verifier:
        case["verifier"] = verifier
    if note:
        case["note"] = note
    CASES.append(case)


STD = ["@method", "@authority", "@path", "@query", "content-type", "content-digest"]


def main():
    for keyid in ["hmac-key", "ed25519-key", "p256-key", "p384-key", "rsa-pss-key", "rsa-v15-key"]:
        alg = KEYS[keyid]["alg"]
        add(
            "alg_" + "".join(c if c.isalnum() else "_" for c in alg),
            f"{alg} over method, authority, path, query, content-type, content-digest",
            sign(request(), STD, keyid=keyid),
            [keyid],
            "valid",
            note=None,
        )

    derived = {
        "target_uri_port": (["@target-uri", "content-digest"], dict(uri="https://example.com:8443/a/b?x=1")),
        "target_uri_default_port": (["@target-uri", "content-digest"], dict(uri="https://example.com:443/a/b?x=1")),
        "target_uri_uppercase_host": (["@target-uri", "@authority", "content-digest"], dict(uri="https://API.Example.com/a")),
        "authority_port": (["@authority", "content-digest"], dict(uri="http://example.com:8080/")),
        "authority_default_port_https": (["@authority", "content-digest"], dict(uri="https://example.com:443/p")),
        "authority_case": (["@authority", "content-digest"], dict(uri="https://EXAMPLE.com/p")),
        "authority_ipv6": (["@authority", "@target-uri", "content-digest"], dict(uri="https://[2001:db8::1]:8443/p")),
        "scheme_http": (["@scheme", "content-digest"], dict(uri="http://example.com/p")),
        "request_target": (["@request-target", "content-digest"], dict(uri="https://example.com/a/b?x=1&y=2")),
        "path_percent_encoded": (["@path", "content-digest"], dict(uri="https://example.com/a%20b/%7Efoo/caf%C3%A9")),
        "path_empty": (["@path", "@query"], dict(uri="https://example.com", method="GET", body=None)),
        "query_plain": (["@query", "content-digest"], dict(uri="https://example.com/p?a=1&b=two%20words&c")),
        "query_empty_question_mark": (["@query"], dict(uri="https://example.com/p?", method="GET", body=None)),
        "query_absent": (["@query"], dict(uri="https://example.com/p", method="GET", body=None)),
        "query_param_plain": (['"@query-param";name="Pet"', "content-digest"], {}),
        "query_param_plus_space": (['"@query-param";name="q"', "content-digest"], dict(uri="https://example.com/s?q=with+plus+space")),
        "query_param_encoded_name": (['"@query-param";name="fa%C3%A7ade"', "content-digest"], dict(uri="https://example.com/s?fa%C3%A7ade=yes")),
        "query_param_empty_value": (['"@query-param";name="qux"', "content-digest"], dict(uri="https://example.com/s?qux=&a=1")),
        "query_param_reserved_marks": (['"@query-param";name="v"', "content-digest"], dict(uri="https://example.com/s?v=a~b!c'd(e)f%2A%2F")),
        "query_param_two_params": (['"@query-param";name="a"', '"@query-param";name="b"', "content-digest"], dict(uri="https://example.com/s?a=1&b=%C3%BC")),
        "method_get": (["@method", "@path"], dict(method="GET", uri="https://example.com/x", body=None)),
        "method_delete": (["@method", "@path"], dict(method="DELETE", uri="https://example.com/x/1", body=None)),
    }
    for name, (fields, o) in derived.items():
        add(f"derived_{name}", f"covers {' '.join(fields)} of {o.get('method', 'POST')} {o.get('uri', 'default uri')}", sign(request(**o), fields), ["hmac-key"], "valid")

    base = [["host", "example.com"], ["content-type", "application/json"]]
    field_cases = {
        "multi_line": (["x-list", "content-digest"], base + [["x-list", "a, b"], ["x-list", "c"]], "valid", None),
        "surrounding_whitespace": (["x-pad", "content-digest"], base + [["x-pad", "   padded value \t "]], "valid", None),
        "multi_line_empty_second": (["x-list", "content-digest"], base + [["x-list", "a"], ["x-list", ""]], "valid", None),
        "internal_tab": (["x-tab", "content-digest"], base + [["x-tab", "a\tb \t c"]], "valid", None),
        "empty_value": (["x-empty", "content-digest"], base + [["x-empty", ""]], "valid", None),
        "obs_fold": (
            ["x-folded", "content-digest"],
            base + [["x-folded", "first part\r\n   second part"]],
            "valid",
            "obs-fold (RFC 9112 §5.2): an `http::HeaderValue` cannot hold CR/LF, so the test harness unfolds the line as an HTTP/1.1 recipient must before the message reaches the verifier; the signer unfolded it per RFC 9421 §2.1",
        ),
        "sf_dictionary_priority": (['"priority";sf', "content-digest"], base + [["priority", "u=1,   i"]], "valid", None),
        "sf_dictionary_cache_control": (['"cache-control";sf', "content-digest"], base + [["cache-control", "max-age=60,   must-revalidate"]], "valid", None),
        "sf_list_accept_ch": (['"accept-ch";sf', "content-digest"], base + [["accept-ch", "sec-ch-ua,   sec-ch-ua-platform"], ["accept-ch", "sec-ch-ua-model"]], "valid", None),
        "sf_item_content_type": (
            ['"content-type";sf', "content-digest"],
            base,
            "MalformedComponent",
            "The Python library types content-type as an Item through http-sf's retrofit table (draft-ietf-httpbis-retrofit); RFC 9421 §2.1.1 needs the field's structured type to be known, and edge-auth only knows fields defined as structured by an RFC (plus the RFC 9421 examples), so it refuses `;sf` on content-type rather than guess",
        ),
        "sf_dictionary_all_types": (
            ['"cdn-cache-control";sf', "content-digest"],
            base + [["cdn-cache-control", 'a=?1, b=1.50, c="x\\"y",  d=:AQID:;p=tok, e=(1 2.0  "s" *t:x/y);q=-0'], ["cdn-cache-control", 'f=?0, g=@1659578233, h=%"caf%c3%a9"']],
            "valid",
            None,
        ),
        "sf_key_inner_list": (['"cdn-cache-control";key="e"', "content-digest"], base + [["cdn-cache-control", "a, e=(1   2.0 *t);q=-0"]], "valid", None),
        "sf_key_boolean_member": (['"cdn-cache-control";key="a"', "content-digest"], base + [["cdn-cache-control", "a, e=1"]], "valid", None),
        "sf_content_digest": (['"content-digest";sf', "content-digest"], None, "valid", None),
        "sf_key_priority": (['"priority";key="u"', "content-digest"], base + [["priority", "u=1, i"]], "valid", None),
        "sf_key_content_digest_sha512": (['"content-digest";key="sha-512"', "content-digest"], None, "valid", None),
        "bs_multi_line": (['"example-header";bs', "content-digest"], base + [["example-header", "value, with, lots"], ["example-header", "of, commas"]], "valid", None),
        "bs_latin1": (['"x-name";bs', "content-digest"], base + [["x-name", "caf\u00e9"]], "valid", None),
    }
    for name, (fields, headers, expect, note) in field_cases.items():
        o = dict(headers=headers) if headers else dict(digest_algs=("sha-256", "sha-512"))
        add(f"field_{name}", f"covers {' '.join(fields)}", sign(request(**o), fields), ["hmac-key"], expect, note=note)

    add("params_nonce_tag", "created, keyid, alg, expires, nonce, tag", sign(request(), STD, nonce="n-0123456789", tag="app-x"), ["hmac-key"], "valid")
    add("params_no_alg", "without the alg parameter (key decides)", sign(request(), STD, keyid="ed25519-key", include_alg=False), ["ed25519-key"], "valid")
    add("params_no_expires", "created only", sign(request(), STD, expires=None), ["hmac-key"], "valid")

    add("digest_sha512", "Content-Digest sha-512", sign(request(digest_algs=("sha-512",)), STD), ["hmac-key"], "valid")
    add("digest_sha256_and_sha512", "Content-Digest with sha-256 and sha-512", sign(request(digest_algs=("sha-256", "sha-512")), STD), ["hmac-key"], "valid")
    m = sign(request(), STD)
    add("digest_body_tampered", "body changed after signing (digest covered and signed)", {**m, "body": '{"hello": "World"}'}, ["hmac-key"], "DigestMismatch")

    m1 = sign(request(), STD, label="sig-a")
    m2 = sign(m1, ["@method", "@authority", "@path", "content-digest", '"signature";key="sig-a"'], keyid="ed25519-key", label="sig-b", append=True)
    add("two_labels_verify_a", "two signatures (hmac sig-a, ed25519 sig-b over sig-a); verify sig-a by label", m2, ["hmac-key", "ed25519-key"], "valid", verifier={"label": "sig-a"})
    add("two_labels_verify_b", "two signatures; verify sig-b (covers signature;key=\"sig-a\") by label", m2, ["hmac-key", "ed25519-key"], "valid", verifier={"label": "sig-b"})
    add("two_labels_only_second_key", "two signatures, only the ed25519 key known: sig-a fails, sig-b is accepted", m2, ["ed25519-key"], "valid")

    r = request(uri="https://example.com/orders?id=7")
    resp = {
        "status": 503,
        "headers": [["content-type", "application/json"], ["content-digest", content_digest(b'{"busy":true}', ("sha-512",))]],
        "body": '{"busy":true}',
        "request": r,
    }
    add(
        "response_status_req",
        "response covering @status, content-*, and @method;req @authority;req @path;req @query-param;req content-digest;req",
        sign(resp, ["@status", "content-type", "content-digest", '"@method";req', '"@authority";req', '"@path";req', '"@query-param";name="id";req', '"content-digest";req']),
        ["hmac-key"],
        "valid",
    )
    add("response_status_tampered", "status changed after signing", {**sign(resp, ["@status", "content-digest"]), "status": 200}, ["hmac-key"], "BadSignature")
    signed_req = sign(r, ["@method", "@authority", "@path", "@query", "content-digest"], keyid="ed25519-key")
    bound = {**resp, "request": signed_req}
    add(
        "response_binds_request_signature",
        'response covering @status, content-digest and "signature";req;key="sig1" of the signed request (RFC 9421 §2.4)',
        sign(bound, ["@status", "content-digest", '"signature";key="sig1";req', '"@authority";req', '"@method";req']),
        ["hmac-key"],
        "valid",
    )

    m = sign(request(), STD)
    add("neg_tampered_header", "content-type changed after signing", {**m, "headers": [[n, "text/plain" if n == "content-type" else v] for n, v in m["headers"]]}, ["hmac-key"], "BadSignature")
    add("neg_tampered_query", "query changed after signing", {**m, "uri": "https://example.com/foo?param=Value&Pet=cat"}, ["hmac-key"], "BadSignature")
    add("neg_expired", "verified 10 minutes after expires", m, ["hmac-key"], "Expired", now=EXPIRES + 600, verifier={"max_age": None})
    add("neg_too_old", "created 15 minutes before now, our default max age is 5 minutes", m, ["hmac-key"], "TooOld", now=CREATED + 900)
    add("neg_created_in_future", "verified 10 minutes before created", m, ["hmac-key"], "CreatedInFuture", now=CREATED - 600)
    add("neg_wrong_key", "HMAC secret differs from the signer's", m, ["hmac-key"], "BadSignature", keys={"hmac-key": WRONG_KEY})
    add("neg_alg_mismatch", "ed25519 signature, key ring holds an HMAC key under that keyid", sign(request(), STD, keyid="ed25519-key"), [], "AlgorithmMismatch", keys={"ed25519-key": KEYS["hmac-key"]})

    out = {"generator": "generate_python.py", "library": LIB, "cases": CASES}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "python.json"), "w") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(CASES)} cases to python.json")


if __name__ == "__main__":
    main()

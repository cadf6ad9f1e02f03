"""Writes python.json: JWTs and JWKS minted by PyJWT, jwcrypto and
cryptography (the versions pinned in requirements.txt), for
tests/interop_jose.rs.

    python3 -m venv /tmp/jose-venv
    /tmp/jose-venv/bin/pip install -r tests/interop/jose/requirements.txt
    /tmp/jose-venv/bin/python tests/interop/jose/generate.py

Keys are generated fresh on every run; case names and expectations do not
change. Times are fixed (iat 1795428000) and each case carries the `now` to
validate at. Each case records PyJWT's own verdict (`peer`) under the same
policy (PyJWT does not check `typ`), so disagreements are visible in the
fixture; `expect` is edge-auth's answer by the RFCs. Cases PyJWT cannot
produce (DER signatures, odd salts, stripped coordinates) are made with
cryptography directly; jwcrypto supplies its own JWK exports, thumbprints,
JWS JSON serialization and JWE.
"""

import base64
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
from importlib.metadata import version

import jwt
import jwt.api_jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jws as jwc_jws
from jwcrypto import jwt as jwc_jwt
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

IAT = 1795428000
NOW = IAT + 600
EXP = IAT + 3600
ISS = "https://python.example"
AUD = "api://edge"
LEEWAY = 60
HERE = os.path.dirname(os.path.abspath(__file__))

cases = []


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def claims(**extra):
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "iat": IAT, "exp": EXP}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def alg_of(token: str) -> str:
    try:
        return jwt.get_unverified_header(token).get("alg") or "RS256"
    except Exception:
        return "RS256"


def add(name, jwks, token, expect, validation=None, **extra):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    assert all(c["name"] != name for c in cases), name
    v = {"issuers": [ISS], "audiences": [AUD], "algorithms": [alg_of(token)]}
    v.update(validation or {})
    case = {"name": name, "jwks": jwks, "token": token, "now": NOW, "validation": v, "expect": expect}
    case.update(extra)
    cases.append(case)


class _FrozenDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(NOW, tz=tz)


def peer_verdict(c) -> str:
    """PyJWT's own decode under the case's policy (clock frozen at `now`)."""
    real = jwt.api_jwt.datetime
    jwt.api_jwt.datetime = _FrozenDatetime
    try:
        return _peer_verdict(c)
    finally:
        jwt.api_jwt.datetime = real


def _peer_verdict(c) -> str:
    v = c["validation"]
    try:
        header = jwt.get_unverified_header(c["token"])
        jwks = jwt.PyJWKSet.from_dict(c["jwks"])
        kid = header.get("kid")
        candidates = [k for k in jwks.keys if kid is None or k.key_id == kid]
        if not candidates:
            return "PyJWKError: no key for kid"
        jwt.decode(
            c["token"],
            candidates[0].key,
            algorithms=v["algorithms"],
            audience=v["audiences"] or None,
            issuer=v["issuers"] or None,
            leeway=LEEWAY,
            options={"require": ["exp"]},
        )
        return "valid"
    except Exception as e:  # the verdict is data, whatever it is
        return f"{type(e).__name__}: {e}"[:160]


# --- keys -------------------------------------------------------------------


def rsa_key(bits):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pyjwt_jwk(key, kid=None):
    """A public JWK as PyJWT exports it (`to_jwk`), plus a kid."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(pub, as_dict=True)
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(pub, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(pub, as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def sign(key, alg, payload=None, **headers):
    return jwt.encode(claims() if payload is None else payload, key, algorithm=alg, headers=headers or None)


def tamper(token: str, segment: int) -> str:
    parts = token.split(".")
    s = parts[segment]
    i = len(s) // 2
    parts[segment] = s[:i] + ("B" if s[i] == "A" else "A") + s[i + 1 :]
    return ".".join(parts)


def raw_es(key, alg, header, payload, der=False, high_s=False):
    """ES256/384 signed with cryptography directly: DER or high-S variants."""
    h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
    size = 32 if alg == "ES256" else 48
    order = {32: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
             48: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973}[size]
    signing_input = f"{b64u_json(header)}.{b64u_json(payload)}"
    der_sig = key.sign(signing_input.encode(), ec.ECDSA(h))
    r, s = decode_dss_signature(der_sig)
    if high_s and s <= order // 2:
        s = order - s
    sig = encode_dss_signature(r, s) if der else r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input}.{b64u(sig)}"


def raw_es_sig(key, alg, signing_input):
    """R || S over an already-built signing input."""
    h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
    size = 32 if alg == "ES256" else 48
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(h)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def raw_pss(key, alg_hash, header, payload, salt):
    signing_input = f"{b64u_json(header)}.{b64u_json(payload)}"
    sig = key.sign(signing_input.encode(), padding.PSS(mgf=padding.MGF1(alg_hash), salt_length=salt), alg_hash)
    return f"{signing_input}.{b64u(sig)}"


def self_signed(key, name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = _dt.datetime.fromtimestamp(IAT - 86400, tz=_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


# --- PyJWT: every algorithm, every key size -----------------------------------

rsa_keys = {}
for alg, bits in [("RS256", 2048), ("RS256", 3072), ("RS256", 4096), ("RS384", 3072), ("RS512", 4096),
                  ("PS256", 2048), ("PS384", 3072), ("PS512", 4096)]:
    key = rsa_keys.get(bits) or rsa_key(bits)
    rsa_keys[bits] = key
    kid = f"{alg.lower()}-{bits}"
    add(f"pyjwt_{alg.lower()}_rsa{bits}", {"keys": [pyjwt_jwk(key, kid)]}, sign(key, alg, kid=kid), "valid")
rs = rsa_keys[2048]
rs_jwk = pyjwt_jwk(rs, "rs256-2048")

p256 = ec.generate_private_key(ec.SECP256R1())
p384 = ec.generate_private_key(ec.SECP384R1())
ed = ed25519.Ed25519PrivateKey.generate()
p256_jwk = pyjwt_jwk(p256, "p256")
add("pyjwt_es256_p256", {"keys": [p256_jwk]}, sign(p256, "ES256", kid="p256"), "valid")
add("pyjwt_es384_p384", {"keys": [pyjwt_jwk(p384, "p384")]}, sign(p384, "ES384", kid="p384"), "valid")
add("pyjwt_eddsa_ed25519", {"keys": [pyjwt_jwk(ed, "ed")]}, sign(ed, "EdDSA", kid="ed"), "valid")
for alg, n in [("HS256", 32), ("HS384", 48), ("HS512", 64)]:
    secret = os.urandom(n)
    jwk = HMACAlgorithm.to_jwk(secret, as_dict=True)
    jwk["kid"] = alg.lower()
    add(f"pyjwt_{alg.lower()}_oct_opt_in", {"keys": [jwk]}, sign(secret, alg, kid=alg.lower()), "valid",
        {"allow_symmetric": True})

# --- PyJWT: claims and headers --------------------------------------------------

add("pyjwt_kid_absent_one_key", {"keys": [pyjwt_jwk(p256)]}, sign(p256, "ES256"), "valid")
add("pyjwt_aud_array", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(aud=["https://other.example", AUD]), kid="rs256-2048"), "valid")
add("pyjwt_aud_array_without_ours", {"keys": [rs_jwk]},
    sign(rs, "RS256", claims(aud=["https://other.example"]), kid="rs256-2048"), "AudienceMismatch")
add("pyjwt_aud_wrong", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(aud="api://elsewhere"), kid="rs256-2048"), "AudienceMismatch")
add("pyjwt_iss_wrong", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(iss="https://evil.example"), kid="rs256-2048"), "IssuerMismatch")
add("pyjwt_expired", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(exp=NOW - 3600), kid="rs256-2048"), "Expired")
add("pyjwt_nbf_future", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(nbf=NOW + 3600), kid="rs256-2048"), "NotYetValid")
add("pyjwt_iat_future", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(iat=NOW + 3600), kid="rs256-2048"), "IssuedInFuture")
add("pyjwt_exp_missing", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(exp=None), kid="rs256-2048"), "MissingClaim")
# NumericDate may be fractional (RFC 7519 §2); PyJWT passes floats through.
add("pyjwt_numeric_dates_fractional", {"keys": [rs_jwk]},
    sign(rs, "RS256", claims(iat=IAT + 0.5, nbf=IAT + 0.25, exp=EXP + 0.999), kid="rs256-2048"), "valid")
add("pyjwt_nbf_fractional_future", {"keys": [rs_jwk]},
    sign(rs, "RS256", claims(nbf=NOW + LEEWAY + 0.5), kid="rs256-2048"), "NotYetValid",
    note="PyJWT truncates NumericDates to integers (int(nbf)) and accepts; RFC 7519 §2 allows fractions, and now is before nbf - leeway")
# PyJWT converts datetime claims to integer seconds.
add("pyjwt_datetime_claims", {"keys": [rs_jwk]},
    sign(rs, "RS256", claims(exp=_dt.datetime.fromtimestamp(EXP, tz=_dt.timezone.utc),
                             iat=_dt.datetime.fromtimestamp(IAT, tz=_dt.timezone.utc)), kid="rs256-2048"), "valid")
add("pyjwt_typ_at_jwt", {"keys": [rs_jwk]}, sign(rs, "RS256", kid="rs256-2048", typ="at+jwt"), "valid", {"typ": "at+jwt"})
add("pyjwt_typ_application_at_jwt", {"keys": [rs_jwk]},
    sign(rs, "RS256", kid="rs256-2048", typ="application/at+jwt"), "valid", {"typ": "at+jwt"},
    note="RFC 7515 §4.1.9 / RFC 9068 §4: `application/at+jwt` is `at+jwt`")
add("pyjwt_typ_default_jwt_when_at_jwt_required", {"keys": [rs_jwk]}, sign(rs, "RS256", kid="rs256-2048"),
    "TypeMismatch", {"typ": "at+jwt"}, note="PyJWT does not check typ; RFC 9068 §4 requires at+jwt")
add("pyjwt_header_members_ignored", {"keys": [rs_jwk]},
    sign(rs, "RS256", kid="rs256-2048", cty="application/example", jku="https://evil.example/jwks",
         x5u="https://evil.example/c.pem", x5t="aGVsbG8", x5c=["aGVsbG8="]), "valid")
add("pyjwt_crit_unknown_extension", {"keys": [rs_jwk]},
    sign(rs, "RS256", kid="rs256-2048", crit=["urn:example:ext"], **{"urn:example:ext": 1}), "UnsupportedHeader")
add("pyjwt_crit_empty", {"keys": [rs_jwk]}, sign(rs, "RS256", kid="rs256-2048", crit=[]), "UnsupportedHeader",
    note="RFC 7515 §4.1.11: producers MUST NOT use the empty list as the crit value")
b64_false = jwt.api_jws.encode(json.dumps({"sub": "alice", "exp": EXP}).encode(), rs, algorithm="RS256",
                               headers={"kid": "rs256-2048", "b64": False}, is_payload_detached=True)
add("pyjwt_b64_false_detached", {"keys": [rs_jwk]}, b64_false, "UnsupportedHeader")
add("pyjwt_alg_none", {"keys": [rs_jwk]}, jwt.encode(claims(), None, algorithm="none"), "Unsecured",
    {"algorithms": ["RS256"]})
add("pyjwt_tampered_payload", {"keys": [rs_jwk]}, tamper(sign(rs, "RS256", kid="rs256-2048"), 1), "BadSignature")
add("pyjwt_tampered_signature", {"keys": [rs_jwk]}, tamper(sign(rs, "RS256", kid="rs256-2048"), 2), "BadSignature")
add("pyjwt_tampered_signature_eddsa", {"keys": [pyjwt_jwk(ed, "ed")]}, tamper(sign(ed, "EdDSA", kid="ed"), 2), "BadSignature")

# Python's json escapes non-ASCII (ensure_ascii): the kid arrives as
# `cl\u00e9` in the header and in the JWKS, and compares as `clé`.
add("pyjwt_kid_non_ascii", {"keys": [pyjwt_jwk(p256, "clé-🔑")]}, sign(p256, "ES256", kid="clé-🔑"), "valid")
# Go's encoding/json writes a float64 exp as 1.7954316e+09; any JSON
# number is a NumericDate (RFC 7519 §2).
go_claims = ('{"aud":"%s","exp":1.7954316e+09,"iat":1.795428e+09,"iss":"%s","sub":"alice"}' % (AUD, ISS)).encode()
si = f"{b64u_json({'alg': 'ES256', 'kid': 'p256'})}.{b64u(go_claims)}"
add("numeric_date_exponent_form", {"keys": [p256_jwk]},
    f"{si}.{b64u(raw_es_sig(p256, 'ES256', si))}", "valid")
# Insignificant whitespace in header and claims (RFC 8259 §2), as a
# pretty-printing producer writes them.
pretty_h = json.dumps({"alg": "ES256", "kid": "p256", "typ": "JWT"}, indent=2).encode()
pretty_c = json.dumps(claims(), indent="\t").encode() + b"\r\n"
si = f"{b64u(pretty_h)}.{b64u(pretty_c)}"
add("json_whitespace_pretty_printed", {"keys": [p256_jwk]}, f"{si}.{b64u(raw_es_sig(p256, 'ES256', si))}", "valid")
# An RSA signature is exactly k octets (RFC 8017 §8.2.2 step 1); one whose
# leading zero octet was dropped is invalid.
for i in range(5000):
    t = sign(rs, "RS256", claims(jti=str(i)), kid="rs256-2048")
    h, p, sig = t.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    if raw[0] == 0:
        add("rs256_signature_leading_zero_stripped", {"keys": [rs_jwk]}, f"{h}.{p}.{b64u(raw[1:])}", "BadSignature",
            note="RFC 8017 §8.2.2 step 1 / RFC 7518 §3.3: the signature is k octets; a shortened one is invalid")
        add("rs256_signature_leading_zero_kept", {"keys": [rs_jwk]}, t, "valid")
        break
else:
    raise SystemExit("no RS256 signature with a leading zero octet in 5000 tries")
# A truncated HMAC (RFC 7518 §3.2 allows no truncation for HS256).
hs_secret = os.urandom(32)
hs_jwk = {"kty": "oct", "kid": "hs-trunc", "k": b64u(hs_secret)}
t = sign(hs_secret, "HS256", kid="hs-trunc")
h, p, sig = t.split(".")
add("hs256_truncated_mac", {"keys": [hs_jwk]}, f"{h}.{p}.{b64u(base64.urlsafe_b64decode(sig + '==')[:16])}",
    "BadSignature", {"allow_symmetric": True}, note="RFC 7518 §3.2: the full 32-byte MAC is compared")

# aud is a string or an array of strings (RFC 7519 §4.1.3).
add("aud_array_with_non_string", {"keys": [rs_jwk]}, sign(rs, "RS256", claims(aud=[AUD, 7]), kid="rs256-2048"),
    "Malformed", part="claims", note="RFC 7519 §4.1.3: aud is a string or an array of strings")
# Algorithms and curves edge-auth does not implement: refused, not guessed.
ed448 = __import__("cryptography.hazmat.primitives.asymmetric.ed448", fromlist=["x"]).Ed448PrivateKey.generate()
add("eddsa_ed448_key_unsupported", {"keys": [pyjwt_jwk(ed448, "ed448")]}, sign(ed448, "EdDSA", kid="ed448"), "UnknownKey",
    note="Ed448 is not implemented; the key is skipped (RFC 7517 §5: keys not understood are ignored)")
k1 = ec.generate_private_key(ec.SECP256K1())
add("es256k_unsupported", {"keys": [pyjwt_jwk(k1, "k1")]}, sign(k1, "ES256K", kid="k1"), "UnsupportedAlgorithm",
    {"algorithms": ["ES256"]})
# A P-256 JWK whose point is not on the curve (RFC 8725 §3.4): never verifies.
bad = dict(p256_jwk, kid="off-curve")
y = bytearray(base64.urlsafe_b64decode(bad["y"] + "=="))
y[-1] ^= 1
bad["y"] = b64u(bytes(y))
add("ec_point_not_on_curve", {"keys": [bad]}, sign(p256, "ES256", kid="off-curve"), "BadSignature",
    note="RFC 8725 §3.4: the point is not on P-256; ring refuses it at verification")

# Algorithm confusion: HS256 keyed with the RSA public key's PEM. PyJWT
# refuses to sign with a PEM as an HMAC secret, so the MAC is made here.
pem = rs.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
try:
    confused = jwt.encode(claims(), pem, algorithm="HS256", headers={"kid": "rs256-2048"})
except Exception:
    si = f"{b64u_json({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rs256-2048'})}.{b64u_json(claims())}"
    confused = f"{si}.{b64u(hmac.new(pem, si.encode(), hashlib.sha256).digest())}"
add("alg_confusion_hs256_with_rsa_pem", {"keys": [rs_jwk]}, confused, "AlgorithmNotAllowed", {"algorithms": ["RS256"]})
add("alg_confusion_hs256_allowed_rsa_key", {"keys": [rs_jwk]}, confused, "KeyMismatch",
    {"algorithms": ["RS256", "HS256"], "allow_symmetric": True})

# Duplicates: RFC 7515 §5.2 / RFC 7519 §4 let a recipient reject them, and
# edge-auth does; Python's json keeps the last one.
dup_header = b'{"alg":"HS256","kid":"dup","alg":"none"}'
si = f"{b64u(dup_header)}.{b64u_json(claims())}"
dup_secret = os.urandom(32)
dup_oct = {"kty": "oct", "kid": "dup", "k": b64u(dup_secret)}
add("duplicate_header_member", {"keys": [dup_oct]},
    f"{si}.{b64u(hmac.new(dup_secret, si.encode(), hashlib.sha256).digest())}", "Malformed",
    {"algorithms": ["HS256"], "allow_symmetric": True}, part="header",
    note="RFC 7515 §5.2 step 4: reject duplicate header parameter names")
dup_claims = ('{"iss":"%s","aud":"%s","sub":"alice","exp":%d,"sub":"mallory"}' % (ISS, AUD, EXP)).encode()
si = f"{b64u_json({'alg': 'HS256', 'kid': 'dup'})}.{b64u(dup_claims)}"
add("duplicate_claim", {"keys": [dup_oct]},
    f"{si}.{b64u(hmac.new(dup_secret, si.encode(), hashlib.sha256).digest())}", "Malformed",
    {"allow_symmetric": True}, part="claims", note="RFC 7519 §4: claim names MUST be unique; reject, or take the last")

# Padded base64url: RFC 7515 §2 forbids `=`; PyJWT's decoder adds padding
# and tolerates it.
good = sign(rs, "RS256", kid="rs256-2048")
h, p, s = good.split(".")
pad = lambda seg: seg + "=" * (-len(seg) % 4)
padded = f"{h}.{p}.{pad(s)}" if len(s) % 4 else f"{pad(h)}.{p}.{s}"
add("base64url_padded_segment", {"keys": [rs_jwk]}, padded, "Malformed",
    note="RFC 7515 §2: base64url without padding; the signature no longer matches the signing input either")

# --- cryptography directly: encodings other stacks get wrong ------------------

hdr = {"alg": "ES256", "kid": "p256"}
add("es256_der_signature", {"keys": [p256_jwk]}, raw_es(p256, "ES256", hdr, claims(), der=True), "Malformed",
    part="signature", note="RFC 7518 §3.4: the JWS signature is R || S (64 bytes), not DER")
p384_jwk = pyjwt_jwk(p384, "p384")
add("es384_der_signature", {"keys": [p384_jwk]},
    raw_es(p384, "ES384", {"alg": "ES384", "kid": "p384"}, claims(), der=True), "Malformed", part="signature")
add("es256_fixed_r_s", {"keys": [p256_jwk]}, raw_es(p256, "ES256", hdr, claims()), "valid")
add("es256_high_s", {"keys": [p256_jwk]}, raw_es(p256, "ES256", hdr, claims(), high_s=True), "valid",
    note="ECDSA (RFC 7518 §3.4, FIPS 186) has no low-S rule: n - s verifies as well")
for name, salt, expect in [("pss_salt_hash_length", 32, "valid"),
                           ("pss_salt_max_length", padding.PSS.MAX_LENGTH, "BadSignature"),
                           ("pss_salt_zero", 0, "BadSignature")]:
    add(name, {"keys": [rs_jwk]}, raw_pss(rs, hashes.SHA256(), {"alg": "PS256", "kid": "rs256-2048"}, claims(), salt),
        expect, note="RFC 7518 §3.5: the salt is the size of the hash output" if expect != "valid" else None)

# RSA modulus with a leading zero octet (Java BigInteger style): RFC 7518
# §6.3.1.1 says producers MUST NOT; edge-auth reads the value and accepts.
n = rs.public_key().public_numbers().n
e = rs.public_key().public_numbers().e
zero_n = {"kty": "RSA", "kid": "zero-n", "n": b64u(b"\x00" + n.to_bytes(256, "big")), "e": b64u(e.to_bytes(3, "big"))}
add("rsa_modulus_leading_zero_tolerated", {"keys": [zero_n]}, sign(rs, "RS256", kid="zero-n"), "valid",
    note="RFC 7518 §6.3.1.1 forbids the zero octet to producers; the value is unambiguous, edge-auth accepts it")

# EC coordinate with its leading zero stripped: RFC 7518 §6.2.1.2 requires
# the full 32 bytes; such a key is skipped.
while True:
    k = ec.generate_private_key(ec.SECP256R1())
    x = k.public_key().public_numbers().x.to_bytes(32, "big")
    if x[0] == 0:
        break
short = pyjwt_jwk(k, "short-x")
short["x"] = b64u(x.lstrip(b"\x00"))
add("ec_coordinate_leading_zero_stripped", {"keys": [short]}, sign(k, "ES256", kid="short-x"), "UnknownKey",
    note="RFC 7518 §6.2.1.2: x MUST be the full coordinate size (32 bytes for P-256); the key is skipped")
full = pyjwt_jwk(k, "full-x")
add("ec_coordinate_leading_zero_kept", {"keys": [full]}, sign(k, "ES256", kid="full-x"), "valid")

# x5c-carrying JWKs (RFC 7517 §4.7-4.9): x5c is standard base64 DER, x5t
# and x5t#S256 base64url thumbprints. edge-auth verifies with n/e or x/y
# and ignores the certificate members.
for name, key, alg in [("x5c_rsa", rsa_keys[3072], "RS256"), ("x5c_ec", p256, "ES256")]:
    der = self_signed(key, name)
    jwk = pyjwt_jwk(key, name)
    jwk.update({"use": "sig", "x5c": [base64.b64encode(der).decode()],
                "x5t": b64u(hashlib.sha1(der).digest()), "x5t#S256": b64u(hashlib.sha256(der).digest())})
    add(f"{name}_jwk", {"keys": [jwk]}, sign(key, alg, kid=name), "valid")

# --- jwcrypto ------------------------------------------------------------------


def jwc_token(key, alg, header=None, payload=None):
    h = {"alg": alg}
    h.update(header or {})
    t = jwc_jwt.JWT(header=h, claims=claims() if payload is None else payload)
    t.make_signed_token(key)
    return t.serialize()


for alg, kty, params in [("RS256", "RSA", {"size": 2048}), ("PS384", "RSA", {"size": 3072}),
                         ("ES256", "EC", {"crv": "P-256"}), ("ES384", "EC", {"crv": "P-384"}),
                         ("EdDSA", "OKP", {"crv": "Ed25519"})]:
    key = jwc_jwk.JWK.generate(kty=kty, **params)
    key["kid"] = key.thumbprint()  # RFC 7638
    jwk = key.export_public(as_dict=True)
    add(f"jwcrypto_{alg.lower()}_kid_thumbprint", {"keys": [jwk]}, jwc_token(key, alg, {"kid": key["kid"]}), "valid")

# jwcrypto with use / alg / key_ops set at generation.
key = jwc_jwk.JWK.generate(kty="RSA", size=2048, kid="jwc-sig", use="sig", alg="PS256")
add("jwcrypto_jwk_use_alg", {"keys": [key.export_public(as_dict=True)]},
    jwc_token(key, "PS256", {"kid": "jwc-sig"}), "valid")
add("jwcrypto_jwk_alg_ps256_token_rs256", {"keys": [key.export_public(as_dict=True)]},
    jwc_token(key, "RS256", {"kid": "jwc-sig"}), "KeyMismatch", {"algorithms": ["RS256", "PS256"]},
    note="RFC 7517 §4.4: the key's alg is PS256")
key_ops = jwc_jwk.JWK.generate(kty="EC", crv="P-256", kid="jwc-ops", key_ops=["sign", "verify"])
ops_pub = key_ops.export_public(as_dict=True)
add("jwcrypto_jwk_key_ops", {"keys": [ops_pub]}, jwc_token(key_ops, "ES256", {"kid": "jwc-ops"}), "valid")
oct_key = jwc_jwk.JWK.generate(kty="oct", size=256, kid="jwc-oct")
add("jwcrypto_hs256_oct", {"keys": [json.loads(oct_key.export())]}, jwc_token(oct_key, "HS256", {"kid": "jwc-oct"}),
    "valid", {"allow_symmetric": True})
add("jwcrypto_oct_beside_public_key_dropped", {"keys": [json.loads(oct_key.export()), rs_jwk]},
    jwc_token(oct_key, "HS256", {"kid": "jwc-oct"}), "UnknownKey", {"algorithms": ["HS256", "RS256"], "allow_symmetric": True},
    note="RFC 8725 §3.2: a shared secret beside public keys invites confusion; edge-auth drops it from the set")

# JWS JSON serialization and JWE: JWTs are compact JWS (RFC 7519 §7.2).
rsj = jwc_jwk.JWK.from_pyca(rs)
s = jwc_jws.JWS(json.dumps(claims()).encode())
s.add_signature(rsj, None, json.dumps({"alg": "RS256", "kid": "rs256-2048"}))
add("jwcrypto_jws_json_flattened", {"keys": [rs_jwk]}, s.serialize(compact=False), "Malformed", part="token",
    note="RFC 7519 §7.2: a JWT is the compact serialization")
s.add_signature(jwc_jwk.JWK.from_pyca(p256), None, json.dumps({"alg": "ES256", "kid": "p256"}))
add("jwcrypto_jws_json_general", {"keys": [rs_jwk]}, s.serialize(compact=False), "Malformed", part="token")
enc_key = jwc_jwk.JWK.generate(kty="RSA", size=2048)
e = jwc_jwe.JWE(json.dumps(claims()).encode(), json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rs256-2048"}))
e.add_recipient(enc_key)
add("jwcrypto_jwe_compact", {"keys": [rs_jwk]}, e.serialize(compact=True), "Malformed", {"algorithms": ["RS256"]},
    part="token", note="a JWE (5 segments) is refused before its header is read")

for c in cases:
    c["peer"] = peer_verdict(c)
    if c.get("note") is None:
        c.pop("note", None)

out = {
    "generator": f"PyJWT {version('PyJWT')}, jwcrypto {version('jwcrypto')}, cryptography {version('cryptography')} on Python {'.'.join(map(str, __import__('sys').version_info[:3]))}",
    "cases": cases,
}
with open(os.path.join(HERE, "python.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases")
for c in cases:
    if (c["peer"] == "valid") != (c["expect"] == "valid"):
        print(f"  differs from PyJWT: {c['name']}: ours {c['expect']}, PyJWT {c['peer']}")

"""Writes joserfc.json: DPoP proofs (RFC 9449) made by joserfc, for
tests/it/dpop.rs (`interop_joserfc_*`).

    python3 generate.py    # joserfc 1.6.5, cryptography 48 on Python 3

Keys are generated fresh on every run, so the fixture changes wholesale;
case names and expectations do not. Times are fixed; each case carries the
`now` to verify at. `jkt` is joserfc's own RFC 7638 thumbprint of the key.
"""

import base64
import hashlib
import json
import secrets

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

IAT = 1_795_428_000
NOW = IAT + 10
HTU = "https://resource.example.org/orders"
ACCESS_TOKEN = "joserfc-access-token." + secrets.token_urlsafe(16)


def ath(token):
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def proof(key, alg, claims, header_extra=None, jwk=None):
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": jwk or key.as_dict(private=False)}
    header.update(header_extra or {})
    return jwt.encode(header, claims, key, algorithms=[alg])


def claims(**over):
    c = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": HTU, "iat": IAT,
         "ath": ath(ACCESS_TOKEN)}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


keys = {
    "es256": (ECKey.generate_key("P-256"), "ES256"),
    "es384": (ECKey.generate_key("P-384"), "ES384"),
    "eddsa": (OKPKey.generate_key("Ed25519"), "EdDSA"),
    "ps256": (RSAKey.generate_key(2048), "PS256"),
    "rs256": (RSAKey.generate_key(2048), "RS256"),
}

cases = []
for name, (key, alg) in keys.items():
    cases.append({"name": f"{name}_valid", "proof": proof(key, alg, claims()),
                  "expect": "valid", "jkt": key.thumbprint()})

es, _ = keys["es256"]
jkt = es.thumbprint()
invalid = [
    ("es256_wrong_htm", proof(es, "ES256", claims(htm="POST")), "`htm`"),
    ("es256_wrong_htu", proof(es, "ES256", claims(htu="https://resource.example.org/admin")), "`htu`"),
    ("es256_htu_with_query_valid", proof(es, "ES256", claims(htu=HTU + "?a=1")), None),
    ("es256_no_ath", proof(es, "ES256", claims(ath=None)), "`ath`"),
    ("es256_typ_jwt", proof(es, "ES256", claims(), {"typ": "JWT"}), "`typ`"),
    ("es256_private_jwk", proof(es, "ES256", claims(), jwk=es.as_dict(private=True)), "private key member"),
    ("es256_old_iat", proof(es, "ES256", claims(iat=IAT - 600)), "s old"),
    ("es256_future_iat", proof(es, "ES256", claims(iat=IAT + 600)), "in the future"),
]
for name, p, needle in invalid:
    case = {"name": name, "proof": p, "jkt": jkt}
    if needle is None:
        case["expect"] = "valid"
    else:
        case["expect"] = "invalid"
        case["reason"] = needle
    cases.append(case)

doc = {"made_by": "joserfc 1.6.5", "htm": "GET", "htu": HTU, "access_token": ACCESS_TOKEN,
       "now": NOW, "cases": cases}
with open("joserfc.json", "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(len(cases), "cases")

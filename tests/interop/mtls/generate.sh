#!/bin/sh
# Regenerates the certificates of the mTLS loopback test (tests/it/mtls_loopback.rs):
# a test CA, a server certificate for 127.0.0.1 / localhost, two client
# certificates the CA signed (alice, bob) and one it did not (mallory,
# self-signed). EC P-256 keys in PKCS#8, valid for 100 years. Test-only keys:
# never use them elsewhere.
#
#   sh tests/interop/mtls/generate.sh   (from the repository root; needs openssl)
set -eu
cd "$(dirname "$0")"
days=36500
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }

key ca
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=edge-auth test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

leaf() { # name, subject, extensions
  key "$1"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile "$1.ext" -out "$1.pem"
  rm "$1.csr" "$1.ext"
}
leaf server localhost "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf alice alice "extendedKeyUsage=clientAuth"
leaf bob bob "extendedKeyUsage=clientAuth"
rm -f ca.srl

key mallory
openssl req -x509 -new -key mallory.key -sha256 -days "$days" -subj "/CN=mallory" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=clientAuth" \
  -out mallory.pem

#!/bin/sh
# Regenerate the TEST-ONLY TLS files in tests/fixtures/tls/ (run from the repository root).
# They are committed so the TLS tests need only Python: a throw-away CA (test-ca.pem, what the
# tests trust) and a server certificate it signed for localhost and 127.0.0.1 (test-cert.pem,
# with its unencrypted EC P-256 key test-key.pem, and that key encrypted with the password
# "test-only" in test-key-encrypted.pem), all valid for 100 years. A CA and a leaf,
# rather than one self-signed certificate, pass the strict X.509 checks that newer Pythons
# turn on by default. The keys are public in this repository: never serve anything with them.
set -eu
out=tests/fixtures/tls
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 \
    -subj "/CN=tinyserve TEST ONLY CA - do not trust" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/ca-key.pem" -out "$out/test-ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost/O=tinyserve TEST ONLY - do not use" \
    -keyout "$out/test-key.pem" -out "$work/server.csr"
cat > "$work/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in "$work/server.csr" -CA "$out/test-ca.pem" -CAkey "$work/ca-key.pem" \
    -CAserial "$work/ca.srl" -CAcreateserial -days 36500 -extfile "$work/server.ext" -out "$out/test-cert.pem"
openssl ec -in "$out/test-key.pem" -aes256 -passout pass:test-only \
    -out "$out/test-key-encrypted.pem"
echo "wrote test-ca.pem, test-cert.pem, test-key.pem, test-key-encrypted.pem in $out (test-only)"

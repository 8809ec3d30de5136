#!/usr/bin/env bash
# Writes the test certificates of tests/nats (committed; run again only to replace
# them): a CA, a server certificate for localhost and 127.0.0.1, a client certificate,
# all ECDSA P-256, valid for 100 years. For tests only: the keys are public.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days $days -subj "/CN=peo test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
for who in server client; do
  openssl ecparam -name prime256v1 -genkey -noout -out "$who-key.pem"
  openssl req -new -key "$who-key.pem" -subj "/CN=peo test $who" -out "$who.csr.tmp"
  if [ "$who" = server ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.tmp
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:peo-test-client\n' > ext.tmp
  fi
  openssl x509 -req -in "$who.csr.tmp" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days $days -sha256 \
    -extfile ext.tmp -out "$who.pem"
done
# rustls reads PKCS#8 keys as well as SEC1 ones; PKCS#8 suits every client.
for who in server client; do openssl pkcs8 -topk8 -nocrypt -in "$who-key.pem" -out "$who-key.pem.tmp" && mv "$who-key.pem.tmp" "$who-key.pem"; done
rm -f ./*.tmp ca.srl ca-key.pem

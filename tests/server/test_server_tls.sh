#!/bin/sh
# --tls-cert/--tls-key: the server speaks HTTPS through libmicrohttpd's own TLS (a
# self-signed certificate made by openssl for 127.0.0.1); a client that checks it with
# that certificate gets answers; plain HTTP on the same port gets none; a key without a
# certificate, a file that is not PEM, and a missing file are refused saying which.
. "$(dirname "$0")/lib_server.sh"

command -v openssl >/dev/null 2>&1 || fail "openssl is needed to make a test certificate"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
    fail "openssl made no certificate"
ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme read,append)
start_server --root "$ROOT" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
expect_eq "$(jq -r .tls "$T/serve.out")" true "the listening line says tls"
BASE=https://127.0.0.1:$PORT
req POST /v1/t/acme/streams/s --cacert "$T/cert.pem" -H 'Content-Type: application/json' \
    --data '[{"type":"T","data":1}]'
expect_status 201 "append over HTTPS"
req GET /v1/t/acme/events --cacert "$T/cert.pem"
expect_eq "$(jq -r .data "$T/body")" 1 "read over HTTPS"
req GET /health
expect_status 000 "an unchecked certificate is refused by the client"
BASE=http://127.0.0.1:$PORT
req GET /health --max-time 3
expect_status 000 "plain HTTP on the TLS port gets no answer"
stop_server

evs serve --root "$ROOT" --listen 127.0.0.1:0 --tls-key "$T/key.pem"
expect_rc 2 "a key without a certificate"
expect_in "go together" "$T/err" "says so"
evs serve --root "$ROOT" --listen 127.0.0.1:0 --tls-cert "$ROOT/tokens" --tls-key "$T/key.pem"
expect_rc 1 "a certificate that is not PEM"
expect_in "not a PEM file" "$T/err" "says so"
evs serve --root "$ROOT" --listen 127.0.0.1:0 --tls-cert "$T/nope.pem" --tls-key "$T/key.pem"
expect_rc 1 "a missing certificate"
expect_in "nope.pem" "$T/err" "names the file"
echo "ok"

#!/bin/sh
# docs/openapi.yaml and the server agree: every route the server has (evstore serve
# --routes) is in the file, and every path and method in the file is a route; and each
# route exists on a running server (it answers something other than 404 "no route").
. "$(dirname "$0")/lib_server.sh"

spec=$(dirname "$0")/../../docs/openapi.yaml
[ -r "$spec" ] || fail "cannot read $spec"
# Paths are the two-space-indented keys under "paths:", methods the four-space ones.
awk '/^paths:/ {p = 1; next}
     p && /^[^ ]/ {p = 0}
     p && /^  \/[^ ]*:$/ {path = $1; sub(/:$/, "", path)}
     p && /^    (get|post|put|delete|patch):/ {m = $1; sub(/:$/, "", m); print toupper(m) " " path}' \
    "$spec" | sort >"$T/spec"
"$EVS" serve --routes | sort >"$T/server"
[ -s "$T/spec" ] || fail "no routes found in $spec"
diff "$T/spec" "$T/server" >"$T/diff" ||
    fail "openapi.yaml (<) and the server's routes (>) differ: $(cat "$T/diff")"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
start_server --root "$ROOT" --no-auth
while read -r method path; do
    url=$(echo "$path" | sed 's/{tenant}/acme/; s/{stream}/s-1/; s/{consumer}/c1/')
    req "$method" "$url" --max-time 3
    if grep -q '"no route' "$T/body"; then
        fail "$method $path is in the file but the server has no such route"
    fi
done <"$T/spec"
kill -0 "$PID" 2>/dev/null || fail "the server died: $(cat "$T/serve.err")"
stop_server
echo "ok: $(lines "$T/spec") routes"

# make install at a prefix chosen at install time, not at configure time: the files land
# there, evstore.pc points there, and a program built with pkg-config against the
# installed library runs (with the rpath the README tells users to add).
. "$(dirname "$0")/lib.sh"

build=$(dirname "$(dirname "$EVS")")
[ -f "$build/CMakeCache.txt" ] || fail "no CMakeCache.txt next to the binary's folder: $build"
command -v pkg-config >/dev/null 2>&1 || fail "pkg-config is needed"

prefix=$T/some/where
cmake --install "$build" --prefix "$prefix" >"$T/out" 2>"$T/err" || fail "cmake --install"
for f in bin/evstore include/evstore.h include/evstore_sql.h; do
    [ -f "$prefix/$f" ] || fail "installed tree lacks $f"
done
pc=$(find "$prefix" -name evstore.pc)
[ -n "$pc" ] || fail "no evstore.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libevstore.so* >/dev/null 2>&1 || fail "no libevstore.so in $libdir"

export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --cflags evstore) || fail "pkg-config --cflags"
libs=$(pkg-config --libs evstore) || fail "pkg-config --libs"
(cd "$(pkg-config --variable=includedir evstore)" && [ "$(pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ]) ||
    fail "evstore.pc's includedir is not under the install prefix"

# The library of a sanitizer build needs the sanitizer runtime in the program too.
san=$(sed -n 's/^EVS_SANITIZE:STRING=//p' "$build/CMakeCache.txt")
sanflags=${san:+-fsanitize=$san}

cat >"$T/app.c" <<'C'
#include <evstore.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    evs_store *s;
    if (argc != 2 || evs_open(&s, argv[1], NULL) != EVS_OK)
        return 1;
    evs_event_in e = {.type = "Installed", .data = "{}", .data_len = 2};
    evs_append_result r;
    int rc = evs_append(&r, s, "app-1", EVS_EXPECT_ANY, &e, 1);
    printf("%lld\n", rc == EVS_OK ? (long long)r.last_pos : -1LL);
    evs_close(s);
    return rc == EVS_OK ? 0 : 1;
}
C
# shellcheck disable=SC2086 # the flags are lists of words
cc $sanflags $cflags -o "$T/app" "$T/app.c" $libs -Wl,-rpath,"$libdir" 2>"$T/err" ||
    fail "building a program against the installed library"
"$prefix/bin/evstore" init "$T/store" >"$T/out" 2>"$T/err" || fail "installed evstore init"
"$T/app" "$T/store" >"$T/out" 2>"$T/err" || fail "the program linked against the installed library"
expect_eq "$(cat "$T/out")" 1 "position of the program's first append"
evs read "$T/store"
expect_eq "$(jq -r .type "$T/out")" Installed "the event the program appended"
echo "ok"

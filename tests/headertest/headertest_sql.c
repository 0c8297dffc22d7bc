/*
 * headertest_sql.c - evstore_sql.h compiles on its own as strict C99 with -pedantic,
 * without sqlite3.h (it names the connection only as `struct sqlite3`), and with it
 * included after it.
 */
#include "evstore_sql.h"

#include <sqlite3.h>

int main(void)
{
    int (*append_tx)(evs_append_result *, sqlite3 *, const char *, int64_t,
                     const evs_event_in *, size_t) = evs_sqlite_append_tx;
    return append_tx ? 0 : 1;
}

/*
 * pg_server.c - the PostgreSQL server the conformance suite's NAME_pg tests share
 * (a CTest fixture, tests/CMakeLists.txt).
 *
 *   pg_server start STATE   make and start a server (tests/common/pgtest.h), write its
 *                           directory and URI to the file STATE
 *   pg_server stop STATE    stop that server by its PID and remove its directory
 *
 * The tests read STATE (EVS_TEST_PG_STATE) and each makes a schema of its own in the
 * server's database, so they run side by side.
 */
#include "pgtest.h"

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "start") != 0 && strcmp(argv[1], "stop") != 0)) {
        fprintf(stderr, "usage: pg_server start|stop STATE\n");
        return 2;
    }
    pgt_server s;
    if (strcmp(argv[1], "stop") == 0) {
        if (pgt_load(&s, argv[2]) != 0) {
            fprintf(stderr, "pg_server: no server recorded in %s\n", argv[2]);
            return 1;
        }
        pgt_destroy(&s);
        unlink(argv[2]);
        printf("pg_server: stopped the server on port %d\n", s.port);
        return 0;
    }
    /* A server left by an earlier run that was interrupted goes first. */
    if (pgt_load(&s, argv[2]) == 0)
        pgt_destroy(&s);
    const char *base = getenv("TMPDIR");
    if (pgt_create(&s, base && *base ? base : "/tmp", false) != 0) {
        if (s.dir[0])
            pgt_destroy(&s);
        return 1;
    }
    if (pgt_save(&s, argv[2]) != 0) {
        fprintf(stderr, "pg_server: cannot write %s\n", argv[2]);
        pgt_destroy(&s);
        return 1;
    }
    printf("pg_server: %s (directory %s)\n", s.uri, s.dir);
    return 0;
}

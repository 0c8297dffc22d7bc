/*
 * suite_pg.c - the suite's PostgreSQL driver. setup() makes a throw-away server: initdb
 * in a temp dir under the bench's base dir, then the postgres server started as our own
 * child (so we hold its PID), listening only on 127.0.0.1 on a free port, no Unix
 * socket, default durability (fsync on, synchronous_commit on). When run as root, both
 * run as the `postgres` user (initdb refuses root). teardown() (also run at exit and on
 * SIGINT/SIGTERM, through the runner's handler and abort()) stops the server by its
 * PID and removes the dir. When the server
 * cannot start, the engine is skipped with the reason.
 *
 * A store is a table named after the store's directory (ev_<name>), as for SQLite:
 * (pos bigserial primary key, stream, version, type, ts, data) with UNIQUE(stream,
 * version); prepared statements through libpq; a batch is one transaction whose inserts
 * are pipelined (libpq pipeline mode), the commit sent once every insert is known to
 * have succeeded. Unsynced stores set synchronous_commit=off. The large stores of W6-W9
 * are loaded with COPY. W9 runs the same SELECT two ways: with the planner kept off
 * indexes (enable_indexscan, enable_bitmapscan, enable_indexonlyscan off: a sequential
 * read of the table) and allowed onto them (an index on (type, pos) made by
 * add_indexes, or the UNIQUE (stream, version) index for a category).
 *
 * Its best case (issue 26): the driver keeps its streams' last versions in memory
 * (suite_versions.h; loaded with a loose index scan of the UNIQUE index when a store is
 * opened), so a batch names every version and is sent as one COPY, a single statement
 * and so a single transaction; the UNIQUE index still turns away a wrong version. The
 * stateless variant (versions(db, 0)) is the pipelined batch of inserts that find or
 * check each version in the table (below). The table is shared by the threads of W2,
 * under a mutex: a version is taken from it before the insert commits, so a failed
 * commit forgets the table (and could leave a gap in that stream's versions if another
 * thread's insert of the same stream committed meanwhile; none fails in the suite).
 *
 * Child processes (W7, W8) reach the server through SUITE_PG_CONNINFO, which setup
 * exports once the server answers.
 */
#define _GNU_SOURCE
#include "suite.h"
#include "suite_versions.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The server, one per run. */
static struct {
    char tmp[4096]; /* temp dir: data/, logs */
    char bindir[4096];
    char conninfo[256];
    pid_t pid;    /* postgres, our child; 0 when not running */
    pid_t initdb; /* initdb while it runs, else 0 */
    uid_t uid;    /* user to run as when we are root */
    gid_t gid;
    int drop; /* 1: switch to uid/gid in the child */
} srv;

#define TABLE_MAX 64

typedef struct pg_db {
    int durable;
    char table[TABLE_MAX];
    pthread_mutex_t lock; /* guards vers and stateless */
    suite_versions *vers;
    int stateless; /* 1: every version is found or checked in the table */
} pg_db;

typedef struct pg_conn {
    PGconn *c;
    pg_db *db;
    char table[TABLE_MAX];
} pg_conn;

const char *suite_pg_conninfo(void)
{
    return srv.conninfo[0] ? srv.conninfo : getenv("SUITE_PG_CONNINFO");
}

/* A store's table: "ev_" and the last part of its directory, in [a-z0-9_]. */
void suite_pg_table(char *out, size_t cap, const char *dir)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t n = (size_t)snprintf(out, cap, "ev_%s", base);
    for (size_t i = 3; i < n && i < cap; i++) {
        char ch = out[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : '_';
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run argv (a server binary) as the server user with output to `log`. Returns the
 * child's pid, or -1. */
static pid_t spawn(const char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (srv.drop && (setgroups(0, NULL) != 0 || setgid(srv.gid) != 0 || setuid(srv.uid) != 0))
        _exit(126);
    setenv("LC_ALL", "C", 1);
    execv(argv[0], (char *const *)argv); /* execv does not write to them */
    _exit(127);
}

/* Find the server binaries: $EVS_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin. */
static int find_bindir(void)
{
    const char *env = getenv("EVS_PG_BINDIR");
    if (env && *env) {
        snprintf(srv.bindir, sizeof srv.bindir, "%s", env);
        return 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0)
        return -1;
    /* glob sorts by name; prefer the highest major version (numeric compare). */
    size_t best = 0;
    for (size_t i = 1; i < g.gl_pathc; i++)
        if (atoi(g.gl_pathv[i] + 20) > atoi(g.gl_pathv[best] + 20))
            best = i;
    snprintf(srv.bindir, sizeof srv.bindir, "%s", g.gl_pathv[best]);
    globfree(&g);
    *strrchr(srv.bindir, '/') = '\0';
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Stop the server by its PID: SIGINT is PostgreSQL's fast shutdown; SIGQUIT after
 * 20 s, SIGKILL after 30 s. Async-signal-safe, so the signal handler can use it. */
static void stop_server(void)
{
    if (srv.initdb > 0) {
        kill(srv.initdb, SIGKILL);
        waitpid(srv.initdb, NULL, 0);
        srv.initdb = 0;
    }
    pid_t pid = srv.pid;
    if (pid <= 0)
        return;
    srv.pid = 0;
    kill(pid, SIGINT);
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        if (i == 2000)
            kill(pid, SIGQUIT);
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void pg_teardown(void)
{
    stop_server();
    if (srv.tmp[0]) {
        suite_rmtree(srv.tmp);
        srv.tmp[0] = '\0';
    }
}

/* Say why the engine is skipped, with the end of the server's log (the temp dir that
 * holds it is removed), and clean up. */
static int skip(const char *why, const char *log)
{
    fprintf(stderr, "suite: pg: SKIPPED: %s\n", why);
    FILE *f = log ? fopen(log, "r") : NULL;
    if (f) {
        char tail[801];
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > 800 ? size - 800 : 0, SEEK_SET);
        size_t n = fread(tail, 1, 800, f);
        tail[n] = '\0';
        fprintf(stderr, "suite: pg: end of %s:\n%s\n", log, tail);
        fclose(f);
    }
    pg_teardown();
    return SUITE_ERR;
}

/* Wait until the server answers, or it died, or 60 s passed. */
static int wait_ready(const char *log)
{
    for (int i = 0; i < 600; i++) {
        if (PQping(srv.conninfo) == PQPING_OK)
            return SUITE_OK;
        if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
            srv.pid = 0;
            return skip("the server exited at start", log);
        }
        sleep_ms(100);
    }
    return skip("the server did not answer within 60 s", log);
}

static int pg_setup(const char *base)
{
    if (find_bindir() != 0)
        return skip("no PostgreSQL server binaries (install postgresql, or set EVS_PG_BINDIR)",
                    NULL);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw)
            return skip("running as root and there is no 'postgres' user to run the server", NULL);
        srv.uid = pw->pw_uid, srv.gid = pw->pw_gid, srv.drop = 1;
    }
    snprintf(srv.tmp, sizeof srv.tmp, "%s/evs-suite-pg-XXXXXX", base);
    if (!mkdtemp(srv.tmp)) {
        srv.tmp[0] = '\0';
        return skip("cannot make a temp dir", NULL);
    }
    if (srv.drop && chown(srv.tmp, srv.uid, srv.gid) != 0)
        return skip("cannot hand the temp dir to the postgres user", NULL);
    atexit(pg_teardown);

    char data[4200], log[4200], bin[4200], portstr[16];
    snprintf(data, sizeof data, "%s/data", srv.tmp);
    snprintf(log, sizeof log, "%s/initdb.log", srv.tmp);
    snprintf(bin, sizeof bin, "%s/initdb", srv.bindir);
    const char *initdb[] = {bin,     "-D", data,   "-U",         "bench",     "-A",
                            "trust", "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    srv.initdb = spawn(initdb, log);
    int st = 0;
    pid_t ip = srv.initdb;
    int ok = ip > 0 && waitpid(ip, &st, 0) == ip && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    srv.initdb = 0;
    if (!ok)
        return skip("initdb failed", log);

    int port = free_port();
    if (port <= 0)
        return skip("no free TCP port on 127.0.0.1", NULL);
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s/server.log", srv.tmp);
    snprintf(bin, sizeof bin, "%s/postgres", srv.bindir);
    const char *server[] = {bin,
                            "-D",
                            data,
                            "-p",
                            portstr,
                            "-c",
                            "listen_addresses=127.0.0.1",
                            "-c",
                            "unix_socket_directories=",
                            "-c",
                            "max_connections=30",
                            NULL};
    srv.pid = spawn(server, log);
    if (srv.pid < 0) {
        srv.pid = 0;
        return skip("cannot fork the server", NULL);
    }
    snprintf(srv.conninfo, sizeof srv.conninfo,
             "host=127.0.0.1 port=%d user=bench dbname=postgres connect_timeout=10"
             " options='-c client_min_messages=warning'",
             port);
    if (wait_ready(log) != SUITE_OK)
        return SUITE_ERR;
    setenv("SUITE_PG_CONNINFO", srv.conninfo, 1);
    fprintf(stderr, "suite: pg: server %s/postgres pid %d on 127.0.0.1:%d\n", srv.bindir,
            (int)srv.pid, port);
    return SUITE_OK;
}

static int fail_res(PGconn *c, PGresult *r, const char *what)
{
    fprintf(stderr, "suite: pg: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return SUITE_ERR;
}

/* Run a command with no result rows. */
static int exec_cmd(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_res(c, r, sql);
    PQclear(r);
    return SUITE_OK;
}

/* A new event's version without a check: one past the stream's last, through the
 * UNIQUE(stream, version) index; with a check: inserted only when the stream's last
 * version is the expected one (0 rows = conflict). %1$s is the table. */
static const char *const sql_ins_any =
    "INSERT INTO %1$s(stream,version,type,ts,data) SELECT $1::text,"
    " coalesce(max(version),-1)+1, $2::text, $3::bigint, $4::text FROM %1$s WHERE stream=$1";
static const char *const sql_ins_at =
    "INSERT INTO %1$s(stream,version,type,ts,data) SELECT $1::text, $2::bigint+1, $3::text,"
    " $4::bigint, $5::text WHERE (SELECT coalesce(max(version),-1) FROM %1$s"
    " WHERE stream=$1::text) = $2::bigint";
static const char *const sql_ins =
    "INSERT INTO %1$s(stream,version,type,ts,data) VALUES($1,$2,$3,$4,$5)";
static const char *const sql_last = "SELECT coalesce(max(version),-1) FROM %1$s WHERE stream=$1";
/* Every stream's last version: a loose index scan of the UNIQUE (stream, version) index
 * (the next stream after the one before, then its last version: two index probes a
 * stream, not a read of the table). */
static const char *const sql_versions =
    "WITH RECURSIVE s(stream) AS (SELECT min(stream) FROM %1$s UNION ALL"
    " SELECT (SELECT min(stream) FROM %1$s WHERE stream > s.stream) FROM s"
    " WHERE s.stream IS NOT NULL)"
    " SELECT stream, (SELECT max(version) FROM %1$s t WHERE t.stream = s.stream) FROM s"
    " WHERE stream IS NOT NULL";
static const char *const sql_stream =
    "SELECT pos,stream,version,type,ts,data FROM %1$s WHERE stream=$1 ORDER BY version";
static const char *const sql_by_type =
    "SELECT pos,stream,version,type,ts,data FROM %1$s WHERE type=$1 ORDER BY pos";
static const char *const sql_by_category =
    "SELECT pos,stream,version,type,ts,data FROM %1$s WHERE stream >= $1 AND stream < $2"
    " ORDER BY pos";

/* A statement's text for one table. */
static const char *sql_for(char *buf, size_t cap, const char *fmt, const char *table)
{
    /* The formats above take the table by position (%1$s), several times. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, cap, fmt, table);
#pragma GCC diagnostic pop
    return buf;
}

/* Run `fmt` (a command on %1$s) on a new connection. */
static int exec_on_table(const char *fmt, const char *table)
{
    char sql[512];
    const char *ci = suite_pg_conninfo();
    if (!ci)
        return SUITE_ERR;
    PGconn *c = PQconnectdb(ci);
    int rc = PQstatus(c) == CONNECTION_OK ? exec_cmd(c, sql_for(sql, sizeof sql, fmt, table))
                                          : fail_res(c, NULL, "connect");
    PQfinish(c);
    return rc;
}

/* After a bulk load the server writes the dirty pages out over the next minutes (its
 * checkpoints are spread over checkpoint_timeout): here a durable workload of another
 * engine that ran then lost up to a third of its rate to them. CHECKPOINT writes them
 * now. It needs a superuser, which the server the suite starts has; with a server of
 * SUITE_PG_CONNINFO that refuses, the suite says so once and goes on. */
static void pg_settle(void)
{
    static int refused;
    const char *ci = suite_pg_conninfo();
    if (!ci || refused)
        return;
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK || exec_cmd(c, "CHECKPOINT") != SUITE_OK) {
        fprintf(stderr, "suite: pg: no CHECKPOINT between measurements: its background "
                        "writes may overlap them\n");
        refused = 1;
    }
    PQfinish(c);
}

static void pg_close(void *p)
{
    pg_db *db = p;
    suite_versions_free(db->vers);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

static int pg_reopen(void **out, const char *dir)
{
    pg_db *db = suite_pg_conninfo() ? calloc(1, sizeof *db) : NULL;
    if (!db || !(db->vers = suite_versions_new())) {
        free(db);
        return SUITE_ERR;
    }
    pthread_mutex_init(&db->lock, NULL);
    suite_versions_forget(db->vers, 0);               /* not loaded: versions(db, 1) loads it */
    suite_pg_table(db->table, sizeof db->table, dir); /* the data lives in the server */
    *out = db;
    return SUITE_OK;
}

static int pg_open(void **out, const char *dir, int durable)
{
    if (pg_reopen(out, dir) != SUITE_OK)
        return SUITE_ERR;
    pg_db *db = *out;
    db->durable = durable;
    suite_versions_forget(db->vers, 1); /* a new store: no streams */
    int rc = exec_on_table("DROP TABLE IF EXISTS %1$s", db->table);
    if (rc == SUITE_OK)
        rc = exec_on_table("CREATE TABLE %1$s(pos bigserial PRIMARY KEY, stream text NOT NULL,"
                           " version bigint NOT NULL, type text NOT NULL, ts bigint NOT NULL,"
                           " data text NOT NULL, UNIQUE(stream, version))",
                           db->table);
    if (rc != SUITE_OK) {
        pg_close(db);
        return SUITE_ERR;
    }
    return SUITE_OK;
}

static void pg_destroy(const char *dir)
{
    char table[TABLE_MAX];
    suite_pg_table(table, sizeof table, dir);
    exec_on_table("DROP TABLE IF EXISTS %1$s", table);
}

static void pg_conn_close(void *p)
{
    pg_conn *pc = p;
    if (pc)
        PQfinish(pc->c);
    free(pc);
}

static int prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
    PGresult *r = PQprepare(c, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail_res(c, r, name);
    PQclear(r);
    return SUITE_OK;
}

static int pg_conn_open(void **out, void *p)
{
    pg_db *db = p;
    pg_conn *pc = calloc(1, sizeof *pc);
    if (!pc)
        return SUITE_ERR;
    char sql[512];
    const char *t = db->table;
    snprintf(pc->table, sizeof pc->table, "%s", t);
    pc->db = db;
    pc->c = PQconnectdb(suite_pg_conninfo());
    int rc = PQstatus(pc->c) == CONNECTION_OK ? SUITE_OK : fail_res(pc->c, NULL, "connect");
    if (rc == SUITE_OK && !db->durable)
        rc = exec_cmd(pc->c, "SET synchronous_commit = off");
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "ins_any", sql_for(sql, sizeof sql, sql_ins_any, t), 4);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "ins_at", sql_for(sql, sizeof sql, sql_ins_at, t), 5);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "ins", sql_for(sql, sizeof sql, sql_ins, t), 5);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "last", sql_for(sql, sizeof sql, sql_last, t), 1);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "stream", sql_for(sql, sizeof sql, sql_stream, t), 1);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "by_type", sql_for(sql, sizeof sql, sql_by_type, t), 1);
    if (rc == SUITE_OK)
        rc = prepare(pc->c, "by_category", sql_for(sql, sizeof sql, sql_by_category, t), 2);
    if (rc != SUITE_OK) {
        pg_conn_close(pc);
        return SUITE_ERR;
    }
    *out = pc;
    return SUITE_OK;
}

/* Queue one insert that finds or checks its version in the table (stateless; text
 * parameters, which libpq copies at once). */
static int send_insert(PGconn *c, const suite_ev *e, const char *ts)
{
    char expect[24];
    if (e->expect == SUITE_EXPECT_ANY) {
        const char *v[4] = {e->stream, suite_ev_type(e), ts, e->data};
        return PQsendQueryPrepared(c, "ins_any", 4, v, NULL, NULL, 0);
    }
    snprintf(expect, sizeof expect, "%lld", (long long)e->expect);
    const char *v[5] = {e->stream, expect, suite_ev_type(e), ts, e->data};
    return PQsendQueryPrepared(c, "ins_at", 5, v, NULL, NULL, 0);
}

/* Collect the pipeline's results: BEGIN, then n inserts, then the sync. Each query's
 * result is followed by a NULL. Returns SUITE_OK when every insert wrote its row,
 * SUITE_CONFLICT when an expected-version check or the UNIQUE index turned one away. */
static int collect(PGconn *c, size_t n)
{
    int rc = SUITE_OK;
    for (size_t i = 0; i <= n; i++) {
        PGresult *r = PQgetResult(c);
        if (!r)
            return fail_res(c, NULL, "pipeline result");
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (rc == SUITE_OK && state && !strcmp(state, "23505")) {
            rc = SUITE_CONFLICT;
        } else if (rc == SUITE_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "suite: pg: pipelined %s: %s", i ? "insert" : "BEGIN",
                    PQresultErrorMessage(r));
            rc = SUITE_ERR;
        } else if (rc == SUITE_OK && i > 0 && strcmp(PQcmdTuples(r), "1") != 0) {
            rc = SUITE_CONFLICT;
        }
        PQclear(r);
        while ((r = PQgetResult(c)) != NULL)
            PQclear(r);
    }
    PGresult *r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC && rc == SUITE_OK)
        return fail_res(c, r, "pipeline sync");
    PQclear(r);
    return rc;
}

/* The stateless batch: one transaction of pipelined inserts, BEGIN, the n inserts,
 * COMMIT once every insert is known to have succeeded. */
static int pipelined(PGconn *c, const suite_ev *ev, size_t n)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)suite_wall_ns());
    if (!PQenterPipelineMode(c))
        return fail_res(c, NULL, "pipeline mode");
    int ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (size_t i = 0; i < n && ok; i++)
        ok = send_insert(c, &ev[i], ts);
    if (!ok || !PQpipelineSync(c)) {
        fail_res(c, NULL, "send");
        return SUITE_ERR; /* the connection is unusable; the run stops for this engine */
    }
    int rc = collect(c, n);
    if (!PQexitPipelineMode(c) && rc == SUITE_OK)
        rc = fail_res(c, NULL, "pipeline exit");
    int end = exec_cmd(c, rc == SUITE_OK ? "COMMIT" : "ROLLBACK");
    return rc == SUITE_OK ? end : rc;
}

/* The stream's last version, read from the store. */
static int read_last(PGconn *c, const char *stream, int64_t *last)
{
    const char *v[1] = {stream};
    PGresult *r = PQexecPrepared(c, "last", 1, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return fail_res(c, r, "last version");
    *last = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return SUITE_OK;
}

static void forget(pg_db *db)
{
    pthread_mutex_lock(&db->lock);
    suite_versions_forget(db->vers, 0);
    pthread_mutex_unlock(&db->lock);
}

/* Each event's version from the table (a stream it does not know is read from the
 * store), each expected version checked. The table learns them at once, under its
 * lock; a batch that then fails to commit makes it forget (forget()). */
static int take_versions(pg_conn *pc, const suite_ev *ev, size_t n, int64_t *version)
{
    pg_db *db = pc->db;
    int rc = SUITE_OK;
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < n && rc == SUITE_OK; i++) {
        int64_t last = suite_versions_get(db->vers, ev[i].stream);
        if (last == SUITE_VERSION_UNKNOWN)
            rc = read_last(pc->c, ev[i].stream, &last);
        if (rc == SUITE_OK && ev[i].expect != SUITE_EXPECT_ANY && ev[i].expect != last)
            rc = SUITE_CONFLICT;
        if (rc == SUITE_OK) {
            version[i] = last + 1;
            suite_versions_set(db->vers, ev[i].stream, last + 1); /* ENOMEM: it forgets */
        }
    }
    if (rc != SUITE_OK)
        suite_versions_forget(db->vers, 0);
    pthread_mutex_unlock(&db->lock);
    return rc;
}

static int copy_rows(pg_conn *pc, const suite_ev *ev, size_t n, const int64_t *version);

static int pg_append_batch(void *p, const suite_ev *ev, size_t n)
{
    pg_conn *pc = p;
    int64_t version[SUITE_MAX_BATCH];
    if (pc->db->stateless)
        return pipelined(pc->c, ev, n);
    if (n > SUITE_MAX_BATCH)
        return SUITE_ERR;
    int rc = take_versions(pc, ev, n, version);
    if (rc != SUITE_OK)
        return rc;
    /* COPY rather than the same inserts pipelined with their versions: W1 1.35x and W5
     * 1.13x as fast (bench/RESULTS.md, "Peers' best case"). */
    if ((rc = copy_rows(pc, ev, n, version)) != SUITE_OK)
        forget(pc->db);
    return rc;
}

static int pg_append_one(void *p, const suite_ev *ev)
{
    pg_conn *pc = p;
    PGconn *c = pc->c;
    if (ev->expect != SUITE_EXPECT_ANY)
        return pg_append_batch(p, ev, 1);
    char ts[24], num[24];
    snprintf(ts, sizeof ts, "%lld", (long long)suite_wall_ns());
    /* Two writers may pick the same next version of a stream; the UNIQUE index turns
     * away the second (23505) and it tries again, as an application would (with the
     * table forgotten, reading the version from the store). */
    for (int attempt = 0; attempt < 100; attempt++) {
        int stateless = pc->db->stateless;
        int64_t version = 0;
        if (!stateless && take_versions(pc, ev, 1, &version) != SUITE_OK)
            return SUITE_ERR;
        snprintf(num, sizeof num, "%lld", (long long)version);
        const char *find[4] = {ev->stream, suite_ev_type(ev), ts, ev->data};
        const char *named[5] = {ev->stream, num, suite_ev_type(ev), ts, ev->data};
        PGresult *r = stateless ? PQexecPrepared(c, "ins_any", 4, find, NULL, NULL, 0)
                                : PQexecPrepared(c, "ins", 5, named, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            return SUITE_OK;
        }
        if (!stateless)
            forget(pc->db);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!state || strcmp(state, "23505") != 0)
            return fail_res(c, r, "insert");
        PQclear(r);
    }
    return SUITE_CONFLICT;
}

/* Decode the rows of a result as a reader would (numbers parsed, all six columns);
 * add them to *out. SUITE_ERR on a row that makes no sense. */
static int rows(const PGresult *r, int whole_payload, suite_sum *out)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        long long pos = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        long long ver = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        long long ts = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        const char *d = PQgetvalue(r, i, 5);
        size_t dlen = (size_t)PQgetlength(r, i, 5);
        if (pos <= 0 || ver < 0 || ts <= 0 || PQgetlength(r, i, 1) == 0 ||
            PQgetlength(r, i, 3) == 0 || dlen == 0)
            return SUITE_ERR;
        out->checksum += whole_payload ? suite_touch(d, dlen) : (unsigned char)d[0];
        out->bytes += dlen;
        out->events++;
    }
    return SUITE_OK;
}

static int pg_replay(void *p, suite_sum *out)
{
    PGconn *c = ((pg_conn *)p)->c;
    char sql[512];
    /* A cursor fetched in chunks: the client never holds the whole table. */
    if (exec_cmd(c, "BEGIN") != SUITE_OK ||
        exec_cmd(c, sql_for(sql, sizeof sql,
                            "DECLARE rc NO SCROLL CURSOR FOR SELECT pos,stream,version,type,"
                            "ts,data FROM %1$s ORDER BY pos",
                            ((pg_conn *)p)->table)) != SUITE_OK)
        return SUITE_ERR;
    for (;;) {
        PGresult *r = PQexec(c, "FETCH 10000 FROM rc");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fail_res(c, r, "fetch");
            exec_cmd(c, "ROLLBACK");
            return SUITE_ERR;
        }
        int n = PQntuples(r), bad = rows(r, 1, out);
        PQclear(r);
        if (bad != SUITE_OK) {
            fprintf(stderr, "suite: pg: replay: a row makes no sense\n");
            exec_cmd(c, "ROLLBACK");
            return SUITE_ERR;
        }
        if (n == 0)
            break;
    }
    return exec_cmd(c, "COMMIT");
}

static int pg_read_stream(void *p, const char *stream, suite_sum *out)
{
    PGconn *c = ((pg_conn *)p)->c;
    const char *v[1] = {stream};
    PGresult *r = PQexecPrepared(c, "stream", 1, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_res(c, r, "read stream");
    int rc = rows(r, 0, out);
    PQclear(r);
    if (rc != SUITE_OK)
        fprintf(stderr, "suite: pg: read stream: a row makes no sense\n");
    return rc;
}

/* COPY text format: a backslash, tab, newline or carriage return in a value is escaped. */
static size_t copy_escape(char *out, const char *in, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
            out[n++] = '\\';
            ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
        }
        out[n++] = ch;
    }
    return n;
}

/* One COPY of the n rows, a single statement and so a single transaction (synced
 * at its end when synchronous_commit is on). version: each row's, or NULL for the
 * large stores' load, whose expect is the stream's true last version. */
static int copy_rows(pg_conn *pc, const suite_ev *ev, size_t n, const int64_t *version)
{
    char sql[256], row[2 * 4096 + 256];
    int64_t ts = suite_wall_ns();
    PGresult *r =
        PQexec(pc->c, sql_for(sql, sizeof sql, "COPY %1$s(stream,version,type,ts,data) FROM STDIN",
                              pc->table));
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return fail_res(pc->c, r, "copy");
    PQclear(r);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if (ev[i].data_len > 4096) {
            ok = 0;
            break;
        }
        long long v = version ? version[i] : ev[i].expect + 1;
        size_t len = (size_t)snprintf(row, 256, "%s\t%lld\t%s\t%lld\t", ev[i].stream, v,
                                      suite_ev_type(&ev[i]), (long long)ts);
        len += copy_escape(row + len, ev[i].data, ev[i].data_len);
        row[len++] = '\n';
        ok = PQputCopyData(pc->c, row, (int)len) == 1;
    }
    if (PQputCopyEnd(pc->c, ok ? NULL : "suite: row too long") != 1)
        return fail_res(pc->c, NULL, "copy end");
    r = PQgetResult(pc->c);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? SUITE_OK
             : state && !strcmp(state, "23505")    ? SUITE_CONFLICT
                                                   : fail_res(pc->c, r, "copy");
    if (rc != SUITE_ERR)
        PQclear(r);
    while ((r = PQgetResult(pc->c)) != NULL)
        PQclear(r);
    return rc;
}

/* The large stores' load: one COPY of the n rows, versions as given. */
static int pg_load(void *p, const suite_ev *ev, size_t n)
{
    return copy_rows(p, ev, n, NULL);
}

/* The table loaded, on = 1, or dropped (stateless), on = 0; on a connection of its own. */
static int pg_versions(void *p, int on)
{
    pg_db *db = p;
    char sql[1024];
    pthread_mutex_lock(&db->lock);
    db->stateless = !on;
    suite_versions_forget(db->vers, on);
    int rc = SUITE_OK;
    if (on) {
        PGconn *c = PQconnectdb(suite_pg_conninfo());
        PGresult *r = PQstatus(c) == CONNECTION_OK
                          ? PQexec(c, sql_for(sql, sizeof sql, sql_versions, db->table))
                          : NULL;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = fail_res(c, r, "version load");
        } else {
            for (int i = 0; rc == SUITE_OK && i < PQntuples(r); i++)
                if (suite_versions_set(db->vers, PQgetvalue(r, i, 0),
                                       strtoll(PQgetvalue(r, i, 1), NULL, 10)) != 0)
                    rc = SUITE_ERR;
            PQclear(r);
        }
        PQfinish(c);
        if (rc != SUITE_OK)
            suite_versions_forget(db->vers, 0);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

static int pg_filtered(void *p, const suite_filter *f, suite_sum *out)
{
    PGconn *c = ((pg_conn *)p)->c;
    const char *planner = f->use_index ? "RESET enable_indexscan; RESET enable_bitmapscan;"
                                         " RESET enable_indexonlyscan"
                                       : "SET enable_indexscan = off; SET enable_bitmapscan ="
                                         " off; SET enable_indexonlyscan = off";
    if (exec_cmd(c, planner) != SUITE_OK)
        return SUITE_ERR;
    /* A category C is the streams from "C-" up to (not including) "C." ('.' follows '-';
     * the server's collation is C, so this is byte order). */
    char lo[64], hi[64];
    snprintf(lo, sizeof lo, "%s-", f->value);
    snprintf(hi, sizeof hi, "%s.", f->value);
    const char *v[2] = {f->by_category ? lo : f->value, hi};
    PGresult *r = PQexecPrepared(c, f->by_category ? "by_category" : "by_type",
                                 f->by_category ? 2 : 1, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_res(c, r, "filtered select");
    int rc = rows(r, 1, out);
    PQclear(r);
    return rc;
}

static int pg_add_indexes(void *p)
{
    pg_db *db = p;
    int rc = exec_on_table("CREATE INDEX ON %1$s(type, pos)", db->table);
    return rc == SUITE_OK ? exec_on_table("ANALYZE %1$s", db->table) : rc;
}

static long pg_server_pid(void *p)
{
    return PQbackendPID(((pg_conn *)p)->c);
}

const suite_driver suite_pg_driver = {
    .name = "pg",
    .setup = pg_setup,
    .teardown = pg_teardown,
    .abort = stop_server,
    .open = pg_open,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .append_batch = pg_append_batch,
    .append_one = pg_append_one,
    .replay = pg_replay,
    .read_stream = pg_read_stream,
    .close = pg_close,
    .reopen = pg_reopen,
    .load = pg_load,
    .versions = pg_versions,
    .filtered = pg_filtered,
    .add_indexes = pg_add_indexes,
    .server_pid = pg_server_pid,
    .destroy = pg_destroy,
    .settle = pg_settle,
    .open_is_connect = 1,
    .feed = &suite_pg_feed,
};

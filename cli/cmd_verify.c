/*
 * cmd_verify.c - `evstore verify [--quick]`: run evs_verify (or evs_verify_quick) over
 * the whole log, print each problem on stderr (file and byte offset) and a one-line
 * JSON summary on stdout.
 */
#include "cli_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char verify_help[] =
    "usage: evstore verify [DIR] [--quick]\n"
    "\n"
    "Read the whole log and check every record's checksum and framing, that\n"
    "positions are gap-free, stream versions contiguous, and that the stream index\n"
    "agrees with the log. Each problem goes to stderr as one line naming the file\n"
    "and byte offset; stdout gets one summary line:\n"
    "  {\"ok\":true,\"events\":N,\"segments\":N,\"checksummed_bytes\":N,\"problems\":0,\n"
    "   \"lost_positions\":N}\n"
    "checksummed_bytes counts the record bytes whose checksum was checked (stat's\n"
    "bytes also counts segment headers and the padding between records).\n"
    "lost_positions counts the positions a repair declared lost (known, no\n"
    "damage: no event has them and none ever will).\n"
    "When damage keeps the store from being opened at all, the summary says\n"
    "\"ok\":false with null counts and the open error is the one problem.\n"
    "The store is opened read-only: verify never changes it. On a terminal, a\n"
    "progress bar is shown on stderr (never when stderr is a pipe or a file).\n"
    "To repair what it finds, see 'evstore repair'. A last event time ahead of\n"
    "this machine's clock gets a warning on stderr (not a problem: exit code 0).\n"
    "\n"
    "options:\n"
    "  --quick        check the structure, not every byte. Checked: every segment\n"
    "                 header (magic, checksum, first position, store id) and that\n"
    "                 segments follow each other without a gap; every record's frame,\n"
    "                 following the chain of record lengths (length and field sizes,\n"
    "                 flags, position one past the previous, version and link\n"
    "                 plausible); that files end where their records do and the log\n"
    "                 where the head page says; the checksums of the first and last\n"
    "                 record of every segment and of every record in the last MiB of\n"
    "                 the log.\n"
    "                 Not checked: the checksums of the other records (bit rot inside\n"
    "                 an older event's data, metadata, type or stream name), stream\n"
    "                 version chains, the stream index against the log.\n"
    "                 It decodes every 88-byte record header but checksums little\n"
    "                 and builds no stream index: about a third of the CPU time;\n"
    "                 the files are still read from disk.\n"
    "                 The summary adds \"quick\":true; \"events\" counts the frames\n"
    "                 checked, \"checksummed_bytes\" only the records it checksummed.\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 whole, 5 corrupt, 1 other errors (e.g. no store there), 2 usage.\n";

enum { OPT_QUICK };

static const cli_optdef verify_opts[] = {
    [OPT_QUICK] = {"quick", false, 0},
    {NULL, false, 0},
};

/* Progress goes to a terminal only (never into a pipe or a log), at most ten times a
 * second, on one line that problems and the end clear first. */
typedef struct verify_ui {
    bool tty;
    bool shown; /* a progress line is on the screen */
    int64_t last_ns;
} verify_ui;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void clear_progress(verify_ui *ui)
{
    if (ui->shown)
        fputs("\r\033[K", stderr);
    ui->shown = false;
}

static void show_progress(verify_ui *ui, int64_t done, int64_t total)
{
    int64_t t = now_ns();
    if (!ui->tty || total <= 0 || (t - ui->last_ns < 100000000 && done < total))
        return;
    ui->last_ns = t;
    int pct = (int)(done * 100 / total);
    fprintf(stderr, "\rverify: %3d%% [%-40.*s] %lld/%lld MiB", pct, pct * 40 / 100,
            "########################################", (long long)(done >> 20),
            (long long)(total >> 20));
    ui->shown = true;
}

static int on_problem(void *ctx, const evs_problem *pb, int64_t done, int64_t total)
{
    verify_ui *ui = ctx;
    if (pb == NULL) {
        show_progress(ui, done, total);
        return 0;
    }
    clear_progress(ui);
    char where[64] = "";
    char pos[48] = "";
    if (pb->offset >= 0)
        (void)snprintf(where, sizeof where, ": byte %lld", (long long)pb->offset);
    if (pb->pos > 0)
        (void)snprintf(pos, sizeof pos, " (pos %lld)", (long long)pb->pos);
    cli_err("verify", "%s%s: %s%s", pb->file != NULL ? pb->file : "(store)", where,
            pb->what != NULL ? pb->what : "problem", pos);
    return 0;
}

static int print_summary(bool ok, bool quick, const evs_verify_report *r)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 4096) < 0) {
        cli_err("verify", "out of memory");
        return CLI_EXIT_ERROR;
    }
    (void)cli_out_str(&out, ok ? "{\"ok\":true" : "{\"ok\":false");
    if (quick)
        (void)cli_out_str(&out, ",\"quick\":true");
    if (r != NULL) {
        (void)cli_out_str(&out, ",\"events\":");
        (void)cli_out_i64(&out, r->events_checked);
        (void)cli_out_str(&out, ",\"segments\":");
        (void)cli_out_i64(&out, r->segments_checked);
        (void)cli_out_str(&out, ",\"checksummed_bytes\":");
        (void)cli_out_i64(&out, r->bytes_checked);
        (void)cli_out_str(&out, ",\"problems\":");
        (void)cli_out_i64(&out, r->problem_count);
        (void)cli_out_str(&out, ",\"lost_positions\":");
        (void)cli_out_i64(&out, r->lost_count);
    } else {
        (void)cli_out_str(&out, ",\"events\":null,\"segments\":null,\"checksummed_bytes\":null,"
                                "\"problems\":1,\"lost_positions\":null");
    }
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report("verify", &out);
    cli_out_free(&out);
    return code;
}

int cli_cmd_verify(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "verify", argc, argv);
    const char *dir = NULL;
    bool quick = false;
    int opt;
    while ((opt = cli_parser_next_dir(&p, verify_opts, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(verify_help);
        if (opt != OPT_QUICK)
            return CLI_EXIT_USAGE;
        quick = true;
    }
    dir = cli_store_dir("verify", dir);
    if (dir == NULL)
        return CLI_EXIT_USAGE;

    int code;
    evs_store *store = cli_open_readonly("verify", dir, &code);
    if (store == NULL) {
        /* Damage found by open itself (it names file and offset) is still a verify
         * result: say so on stdout too, so scripts read one summary either way. */
        if (code == CLI_EXIT_CORRUPT && print_summary(false, quick, NULL) != CLI_EXIT_OK)
            return CLI_EXIT_ERROR;
        return code;
    }
    evs_verify_report report = {0, 0, 0, 0, 0, 0};
    verify_ui ui = {isatty(STDERR_FILENO) == 1, false, 0};
    int rc = quick ? evs_verify_quick(&report, store, on_problem, &ui)
                   : evs_verify(&report, store, on_problem, &ui);
    clear_progress(&ui);
    if (rc < 0 && rc != EVS_ECORRUPT) {
        code = cli_lib_err("verify", rc);
    } else {
        code = print_summary(rc == 0, quick, &report);
        if (code == CLI_EXIT_OK && rc == EVS_ECORRUPT)
            code = CLI_EXIT_CORRUPT;
        evs_stat_info st;
        if (rc == 0 && evs_stat(&st, store) == 0 && st.event_count > 0)
            cli_warn_future_ts("verify", st.last_ts_ns);
    }
    evs_close(store);
    return code;
}

/*
 * cmd_repair.c - `evstore repair [--dry-run] [--keep-intact]`: run evs_repair, say on
 * stderr what was
 * damaged, what was cut and where the cut bytes went, and print one JSON line with the
 * same facts on stdout (the same keys every time, so jq needs no special case).
 */
#include "cli_common.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char repair_help[] =
    "usage: evstore repair [DIR] [--dry-run] [--keep-intact]\n"
    "\n"
    "Cut the log at its first damaged record, keeping every byte cut off. The log is\n"
    "kept up to the end of the last complete append before the first problem\n"
    "'evstore verify' would report in it (a bad segment header, a gap, a bad frame or\n"
    "checksum, an event out of place, an unfinished append). The bytes from there to\n"
    "the end of the log - the rest of that segment and every later segment file,\n"
    "whole - go into a new folder DIR/repair-YYYYMMDDTHHMMSSZ/ with a REPAIR.txt\n"
    "saying what was cut and why; then the stream index is rebuilt and the head\n"
    "republished, so the store opens and verifies clean. This is also the way out\n"
    "when open refuses a store after a power loss that lost the head page.\n"
    "When the log is whole but the head page promises more of it than there is (a\n"
    "segment file truncated at a record boundary), nothing is cut: the head page is\n"
    "republished and the missing positions reported.\n"
    "A store with nothing to repair is left exactly as it is.\n"
    "\n"
    "With --keep-intact, damage inside the log costs only the events it hit: after a\n"
    "damaged record, repair looks for the next whole record (8-byte aligned) whose\n"
    "position the damaged bytes can have led up to, declares the positions in between\n"
    "lost, saves their bytes in the repair folder, and overwrites them in place with\n"
    "fillers that no read hands out. Every record after the damage stays as it was,\n"
    "byte for byte; streams keep their versions. It still cuts where nothing whole\n"
    "follows the damage (the end of the log, a torn tail, a bad segment header).\n"
    "Stopped halfway (a crash), it is finished by running it again.\n"
    "\n"
    "The store must not be open anywhere, readers included (tail -f, subscribe, any\n"
    "program using it): repair refuses, naming the processes, and changes nothing.\n"
    "A dry run changes nothing, so it runs while readers and writers have the store\n"
    "open (appends wait while it reads the log) and on a read-only file system.\n"
    "\n"
    "stdout gets one line:\n"
    "  {\"damaged\":true,\"dry_run\":false,\"kept_last_pos\":K,\"first_lost_pos\":F,\n"
    "   \"last_lost_pos\":L,\"lost_events\":N,\"bytes_moved\":B,\"files_moved\":M,\n"
    "   \"saved_to\":\"DIR/repair-...\",\"damage\":{\"file\":...,\"offset\":...,\"pos\":...,\n"
    "   \"what\":...},\"consumers_affected\":[NAME,...],\"lost_ranges\":[[F,L],...]}\n"
    "K is the log's last position now; F..L the positions lost (N = L-F+1 events; L is\n"
    "the highest committed position still recognisable in the bytes cut off, or that\n"
    "the head page or the 'synced' file recorded, or a later segment's name). F,\n"
    "L, saved_to and damage are null when they do not apply (a dry run's saved_to is\n"
    "the folder a repair run now would make). Positions are never\n"
    "reused: F..L are declared lost (the store's 'lost' file; reads step over them,\n"
    "verify and stat count them as lost_positions) and appends continue at L+1, in\n"
    "a new segment. The durable consumers whose checkpoint lies in F..L are listed\n"
    "in consumers_affected: they processed events that are gone, and subscribe\n"
    "refuses them until they are reset ('evstore consumer reset').\n"
    "lost_ranges lists every range lost; with --keep-intact there may be several,\n"
    "F and L are the first and the last of them all, N counts the lost positions and\n"
    "K is the log's last position (nothing after the damage was cut).\n"
    "\n"
    "options:\n"
    "  --dry-run      find and report what would be cut; change nothing\n"
    "  --keep-intact  keep every intact record after damage; lose only the damaged ones\n"
    "  --help, -h     this text\n"
    "\n"
    "DIR defaults to $EVSTORE_DIR.\n"
    "Exit codes: 0 repaired, or nothing to repair; 5 damaged (--dry-run), or\n"
    "evstore.meta itself is damaged; 1 other errors (open elsewhere, no store there,\n"
    "no space to save the cut bytes); 2 usage.\n";

enum { OPT_DRY_RUN, OPT_KEEP_INTACT };

static const cli_optdef repair_opts[] = {
    [OPT_DRY_RUN] = {"dry-run", false, 0},
    [OPT_KEEP_INTACT] = {"keep-intact", false, 0},
    {NULL, false, 0},
};

/* lost_ranges_list ("F..L,P,...") as a JSON array of [first,last] pairs. */
static void out_ranges(cli_out *out, const char *list)
{
    (void)cli_out_str(out, ",\"lost_ranges\":[");
    bool first = true;
    for (const char *p = list; *p >= '0' && *p <= '9';) {
        char *end;
        long long a = strtoll(p, &end, 10), b = a;
        if (end[0] == '.' && end[1] == '.')
            b = strtoll(end + 2, &end, 10);
        char item[64];
        (void)snprintf(item, sizeof item, "%s[%lld,%lld]", first ? "" : ",", a, b);
        (void)cli_out_str(out, item);
        first = false;
        p = *end == ',' ? end + 1 : end;
    }
    (void)cli_out_str(out, "]");
}

static void out_pos_or_null(cli_out *out, const char *key, int64_t v, bool present)
{
    (void)cli_out_str(out, key);
    if (present)
        (void)cli_out_i64(out, v);
    else
        (void)cli_out_str(out, "null");
}

static int print_result(const evs_repair_report *r, bool dry_run)
{
    cli_out out;
    if (cli_out_init(&out, STDOUT_FILENO, 8192) < 0) {
        cli_err("repair", "out of memory");
        return CLI_EXIT_ERROR;
    }
    bool lost = r->first_lost_pos > 0;
    (void)cli_out_str(&out, r->damaged ? "{\"damaged\":true" : "{\"damaged\":false");
    (void)cli_out_str(&out, dry_run ? ",\"dry_run\":true" : ",\"dry_run\":false");
    out_pos_or_null(&out, ",\"kept_last_pos\":", r->kept_last_pos, true);
    out_pos_or_null(&out, ",\"first_lost_pos\":", r->first_lost_pos, lost);
    out_pos_or_null(&out, ",\"last_lost_pos\":", r->last_lost_pos, lost);
    out_pos_or_null(&out, ",\"lost_events\":", r->lost_count, true);
    out_pos_or_null(&out, ",\"bytes_moved\":", r->bytes_moved, true);
    out_pos_or_null(&out, ",\"files_moved\":", r->files_moved, true);
    (void)cli_out_str(&out, ",\"saved_to\":");
    if (r->saved_to[0])
        (void)cli_out_json_str(&out, r->saved_to, strlen(r->saved_to));
    else
        (void)cli_out_str(&out, "null");
    (void)cli_out_str(&out, ",\"damage\":");
    if (r->damaged) {
        (void)cli_out_str(&out, "{\"file\":");
        (void)cli_out_json_str(&out, r->damage_file, strlen(r->damage_file));
        out_pos_or_null(&out, ",\"offset\":", r->damage_offset, r->damage_offset >= 0);
        out_pos_or_null(&out, ",\"pos\":", r->damage_pos, r->damage_pos > 0);
        (void)cli_out_str(&out, ",\"what\":");
        (void)cli_out_json_str(&out, r->damage_what, strlen(r->damage_what));
        (void)cli_out_str(&out, "}");
    } else {
        (void)cli_out_str(&out, "null");
    }
    /* The names as a JSON array (they hold no comma: consumer names are A-Z a-z 0-9 . _ -). */
    (void)cli_out_str(&out, ",\"consumers_affected\":[");
    for (const char *n = r->consumers_affected_names; *n;) {
        size_t len = strcspn(n, ",");
        if (n != r->consumers_affected_names)
            (void)cli_out_str(&out, ",");
        (void)cli_out_json_str(&out, n, len);
        n += len + (n[len] == ',');
    }
    (void)cli_out_str(&out, "]");
    out_ranges(&out, r->lost_ranges_list);
    (void)cli_out_str(&out, "}\n");
    (void)cli_out_flush(&out);
    int code = cli_out_report("repair", &out);
    cli_out_free(&out);
    return code;
}

/* --keep-intact's story: what was lost where, and that the rest was kept. */
static void tell_kept(const evs_repair_report *r, bool dry_run)
{
    if (r->lost_ranges > 0)
        cli_err("repair", "positions %s (%lld events) %s; every other record %s, byte for byte",
                r->lost_ranges_list, (long long)r->lost_count,
                dry_run ? "would be declared lost" : "are declared lost",
                dry_run ? "would be kept" : "is kept");
    if (r->bytes_moved > 0)
        cli_err("repair", "%lld bytes (%lld files) %s %s", (long long)r->bytes_moved,
                (long long)r->files_moved,
                dry_run ? "would be saved in a new folder" : "saved in", r->saved_to);
    cli_err("repair", "the log %s at position %lld", dry_run ? "would end" : "ends",
            (long long)r->kept_last_pos);
}

/* The consumers that saw lost events, and that a dry run changed nothing. */
static void tell_consumers(const evs_repair_report *r, bool dry_run)
{
    if (r->consumers_affected > 0)
        cli_err("repair",
                "%lld durable consumer(s) processed events in the lost positions and %s "
                "reset ('evstore consumer reset NAME --to POS'): %s",
                (long long)r->consumers_affected, dry_run ? "would have to be" : "must be",
                r->consumers_affected_names);
    if (dry_run)
        cli_err("repair", "dry run: nothing changed");
}

/* The story on stderr, one line per fact. */
static void tell(const char *dir, const evs_repair_report *r, bool dry_run, bool keep_intact)
{
    if (!r->damaged) {
        cli_err("repair",
                "store '%s' is not damaged (its log ends whole at position %lld); "
                "nothing changed",
                dir, (long long)r->kept_last_pos);
        return;
    }
    char where[64] = "";
    if (r->damage_offset >= 0)
        (void)snprintf(where, sizeof where, ": byte %lld", (long long)r->damage_offset);
    cli_err("repair", "%s%s: %s", r->damage_file, where, r->damage_what);
    if (keep_intact) {
        tell_kept(r, dry_run);
        tell_consumers(r, dry_run);
        return;
    }
    const char *verb = dry_run ? "would cut" : "cut";
    if (r->bytes_moved > 0 || r->files_moved > 0)
        cli_err("repair", "%s the log after position %lld; %lld bytes (%lld files) %s %s", verb,
                (long long)r->kept_last_pos, (long long)r->bytes_moved, (long long)r->files_moved,
                dry_run ? "would be saved in a new folder" : "saved in", r->saved_to);
    bool cuts = r->bytes_moved > 0 || r->files_moved > 0;
    if (r->lost_count > 0)
        cli_err("repair", "positions %lld..%lld (%lld events) %s; %s %lld", (long long)r->first_lost_pos,
                (long long)r->last_lost_pos, (long long)r->lost_count,
                !cuts     ? "are missing from the log (lost before this repair)"
                : dry_run ? "would be lost"
                          : "are lost",
                dry_run ? "they would be declared lost and appends would go on at position"
                        : "they are declared lost and appends go on at position",
                (long long)r->last_lost_pos + 1);
    else if (r->first_lost_pos > 0)
        cli_err("repair", "no committed event %s: the bytes cut off hold no complete append",
                dry_run ? "would be lost" : "was lost");
    tell_consumers(r, dry_run);
    if (!dry_run && !cuts)
        cli_err("repair", "nothing of the log was cut; the stream index was rebuilt and the "
                          "head page republished from it");
}

int cli_cmd_repair(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "repair", argc, argv);
    const char *dir = NULL;
    bool dry_run = false, keep_intact = false;
    int opt;
    while ((opt = cli_parser_next_dir(&p, repair_opts, &dir)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(repair_help);
        if (opt == OPT_DRY_RUN)
            dry_run = true;
        else if (opt == OPT_KEEP_INTACT)
            keep_intact = true;
        else
            return CLI_EXIT_USAGE;
    }
    dir = cli_store_dir("repair", dir);
    if (dir == NULL)
        return CLI_EXIT_USAGE;

    evs_repair_opts opts = EVS_REPAIR_OPTS_INIT;
    if (dry_run)
        opts.flags |= EVS_REPAIR_DRY_RUN;
    if (keep_intact)
        opts.flags |= EVS_REPAIR_KEEP_INTACT;
    evs_repair_report report;
    int rc = evs_repair(&report, dir, &opts);
    if (rc < 0)
        return cli_lib_err("repair", rc);
    tell(dir, &report, dry_run, keep_intact);
    int code = print_result(&report, dry_run);
    if (code == CLI_EXIT_OK && dry_run && report.damaged)
        code = CLI_EXIT_CORRUPT;
    return code;
}

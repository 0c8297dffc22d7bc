/*
 * cli_records.c - the JSON objects that describe a stream, the store and a consumer, as
 * `evstore streams`, `stat` and `consumers` print them and the server answers them.
 */
#include "cli_common.h"

#include <string.h>

int cli_out_stream_fields(cli_out *out, const char *name, size_t len, const evs_stream_info *info)
{
    (void)cli_out_str(out, "{\"stream\":");
    (void)cli_out_json_str(out, name, len);
    (void)cli_out_str(out, ",\"version\":");
    (void)cli_out_i64(out, info->last_version);
    (void)cli_out_str(out, ",\"events\":");
    (void)cli_out_i64(out, info->event_count);
    (void)cli_out_str(out, ",\"first_pos\":");
    (void)cli_out_i64(out, info->first_pos);
    (void)cli_out_str(out, ",\"last_pos\":");
    return cli_out_i64(out, info->last_pos);
}

int cli_out_stream(cli_out *out, const char *name, size_t len, const evs_stream_info *info)
{
    (void)cli_out_stream_fields(out, name, len, info);
    return cli_out_str(out, "}\n");
}

bool cli_stream_in_category(const char *name, size_t len, const char *cat)
{
    size_t n = strlen(cat);
    return len >= n && memcmp(name, cat, n) == 0 && (len == n || name[n] == '-');
}

static void put_field(cli_out *o, const char *name, int64_t v)
{
    (void)cli_out_str(o, name);
    (void)cli_out_i64(o, v);
}

static void put_ts(cli_out *o, const char *name, int64_t ts_ns, bool empty)
{
    (void)cli_out_str(o, name);
    if (empty) {
        (void)cli_out_str(o, "null");
        return;
    }
    char ts[48];
    size_t n = evs_time_format(ts, sizeof ts, ts_ns);
    (void)cli_out_write(o, "\"", 1);
    (void)cli_out_write(o, ts, n);
    (void)cli_out_write(o, "\"", 1);
}

void cli_out_stat(cli_out *o, const evs_stat_info *st)
{
    bool empty = st->event_count == 0;
    put_field(o, "{\"events\":", st->event_count);
    put_field(o, ",\"streams\":", st->stream_count);
    put_field(o, ",\"segments\":", st->segment_count);
    put_field(o, ",\"bytes\":", st->log_bytes);
    put_field(o, ",\"first_pos\":", st->first_pos);
    put_field(o, ",\"last_pos\":", st->last_pos);
    put_ts(o, ",\"first_ts\":", st->first_ts_ns, empty);
    put_ts(o, ",\"last_ts\":", st->last_ts_ns, empty);
    put_field(o, ",\"segment_size\":", (int64_t)st->segment_size);
    put_field(o, ",\"lost_positions\":", st->lost_positions);
    (void)cli_out_str(o, "}\n");
}

void cli_out_consumer(cli_out *out, const evs_consumer_info *ci)
{
    (void)cli_out_str(out, "{\"consumer\":");
    (void)cli_out_json_str(out, ci->name, strlen(ci->name));
    (void)cli_out_str(out, ",\"checkpoint\":");
    (void)cli_out_i64(out, ci->checkpoint);
    (void)cli_out_str(out, ",\"lag\":");
    (void)cli_out_i64(out, ci->lag);
    (void)cli_out_str(out, ",\"ack_ts\":");
    if (ci->ack_ts_ns != 0) {
        char ts[48];
        size_t n = evs_time_format(ts, sizeof ts, ci->ack_ts_ns);
        (void)cli_out_write(out, "\"", 1);
        (void)cli_out_write(out, ts, n);
        (void)cli_out_write(out, "\"", 1);
    } else {
        (void)cli_out_str(out, "null");
    }
    (void)cli_out_str(out, ci->open ? ",\"open\":true" : ",\"open\":false");
    /* The library hands it out as checked JSON: copied as it is. */
    (void)cli_out_str(out, ",\"filter\":");
    (void)cli_out_str(out, ci->filter != NULL ? ci->filter : "null");
    /* A damaged checkpoint is listed rather than hidden, so it can be found and reset. */
    if (ci->status != 0) {
        const char *why = evs_errstr(ci->status);
        (void)cli_out_str(out, ",\"error\":");
        (void)cli_out_json_str(out, why, strlen(why));
    }
    (void)cli_out_str(out, "}\n");
}

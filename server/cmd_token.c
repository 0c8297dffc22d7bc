/*
 * cmd_token.c - `evstore token create|list|revoke DIR`: the server's bearer tokens in
 * DIR/tokens (token_file.c). A running server picks changes up with its next request.
 */
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char token_help[] =
    "usage: evstore token create DIR --tenant T --scopes S [--actor ID] [--name LABEL]\n"
    "       evstore token list DIR\n"
    "       evstore token revoke DIR ID\n"
    "\n"
    "Manage the tokens of 'evstore serve DIR'. create prints the new token once, as\n"
    "{\"token\":...,\"id\":...}; only its SHA-256 is kept (DIR/tokens, mode 0600). A\n"
    "running server sees every change at its next request.\n"
    "\n"
    "options:\n"
    "  --tenant T     the tenant the token may use, or '*' for every tenant (an operator\n"
    "                 token: needed for tenant administration)\n"
    "  --scopes S     comma-separated: read, append, consume, admin (admin allows all)\n"
    "  --actor ID     written as \"actor\" into the metadata of every event appended with\n"
    "                 the token, and the scope of its consumer names: A-Z a-z 0-9 _ -,\n"
    "                 at most 64 bytes (default: the token's id)\n"
    "  --name LABEL   a note shown by list (at most 64 bytes, no control characters)\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage (revoke of an unknown id: 1)\n";

enum { OPT_TENANT, OPT_SCOPES, OPT_ACTOR, OPT_NAME };
static const cli_optdef token_opts[] = {
    [OPT_TENANT] = {"tenant", true, 0},
    [OPT_SCOPES] = {"scopes", true, 0},
    [OPT_ACTOR] = {"actor", true, 0},
    [OPT_NAME] = {"name", true, 0},
    {NULL, false, 0},
};

static bool actor_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > TOK_MAX_FIELD)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int create(const char *dir, const char *tenant, const char *scopes, const char *actor,
                  const char *label)
{
    tok_entry e;
    memset(&e, 0, sizeof e);
    char why[512];
    if (tenant == NULL || scopes == NULL)
        return cli_usage("token", "create needs --tenant and --scopes");
    if (strcmp(tenant, TOK_ANY_TENANT) != 0 && evs_tenant_name_check(tenant) < 0)
        return cli_usage("token", "--tenant: %s", evs_errmsg());
    if (!tok_parse_scopes(scopes, &e.scopes, why, sizeof why))
        return cli_usage("token", "--scopes: %s", why);
    if (actor != NULL && !actor_ok(actor))
        return cli_usage("token", "--actor '%s': 1 to 64 bytes of A-Z a-z 0-9 _ -", actor);
    if (label != NULL && (strlen(label) > TOK_MAX_FIELD ||
                          !cli_name_ok("--name", label, TOK_MAX_FIELD, why, sizeof why)))
        return cli_usage("token", "--name: at most 64 bytes without control characters");
    (void)snprintf(e.tenant, sizeof e.tenant, "%s", tenant);
    (void)snprintf(e.actor, sizeof e.actor, "%s", actor != NULL ? actor : "");
    (void)snprintf(e.label, sizeof e.label, "%s", label != NULL ? label : "");
    e.created_ns = evs__now_ns();
    char text[TOK_TEXT_MAX];
    if (tok_create(&e, text, dir, why, sizeof why) != 0) {
        cli_err("token", "%s", why);
        return CLI_EXIT_ERROR;
    }
    char sc[64];
    tok_scopes_str(e.scopes, sc, sizeof sc);
    printf(
        "{\"token\":\"%s\",\"id\":\"%s\",\"tenant\":\"%s\",\"scopes\":\"%s\",\"actor\":\"%s\"}\n",
        text, e.id, e.tenant, sc, e.actor);
    memset(text, 0, sizeof text);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int list(const char *dir)
{
    tok_list l;
    char why[512];
    if (tok_load(&l, dir, why, sizeof why) != 0) {
        cli_err("token", "%s", why);
        return CLI_EXIT_ERROR;
    }
    cli_out out;
    if (cli_out_init(&out, 1, 16u << 10) < 0) {
        tok_list_free(&l);
        return CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < l.count; i++) {
        const tok_entry *e = &l.items[i];
        char sc[64], ts[48];
        tok_scopes_str(e->scopes, sc, sizeof sc);
        size_t n = evs_time_format(ts, sizeof ts, e->created_ns);
        (void)cli_out_str(&out, "{\"id\":");
        (void)cli_out_json_str(&out, e->id, strlen(e->id));
        (void)cli_out_str(&out, ",\"tenant\":");
        (void)cli_out_json_str(&out, e->tenant, strlen(e->tenant));
        (void)cli_out_str(&out, ",\"scopes\":");
        (void)cli_out_json_str(&out, sc, strlen(sc));
        (void)cli_out_str(&out, ",\"actor\":");
        (void)cli_out_json_str(&out, e->actor, strlen(e->actor));
        (void)cli_out_str(&out, ",\"name\":");
        (void)cli_out_json_str(&out, e->label, strlen(e->label));
        (void)cli_out_str(&out, ",\"created\":");
        (void)cli_out_json_str(&out, ts, n);
        (void)cli_out_str(&out, "}\n");
    }
    (void)cli_out_flush(&out);
    int code = cli_out_report("token", &out);
    cli_out_free(&out);
    tok_list_free(&l);
    return code;
}

int cli_cmd_token(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "token", argc, argv);
    const char *args[3] = {NULL, NULL, NULL};
    size_t nargs = 0;
    const char *val[4] = {NULL, NULL, NULL, NULL};
    int opt;
    while ((opt = cli_parser_next(&p, token_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(token_help);
        if (opt == CLI_OPT_BAD)
            return CLI_EXIT_USAGE;
        if (opt == CLI_OPT_ARG) {
            if (nargs == 3)
                return cli_usage("token", "unexpected argument '%s'", p.value);
            args[nargs++] = p.value;
            continue;
        }
        val[opt] = p.value;
    }
    if (nargs < 2)
        return cli_usage("token", "usage: evstore token create|list|revoke DIR ...");
    const char *verb = args[0], *dir = args[1];
    bool opts_given = val[0] || val[1] || val[2] || val[3];
    if (strcmp(verb, "create") == 0 && nargs == 2)
        return create(dir, val[OPT_TENANT], val[OPT_SCOPES], val[OPT_ACTOR], val[OPT_NAME]);
    if (strcmp(verb, "list") == 0 && nargs == 2 && !opts_given)
        return list(dir);
    if (strcmp(verb, "revoke") == 0 && nargs == 3 && !opts_given) {
        char why[512];
        int rc = tok_revoke(dir, args[2], why, sizeof why);
        if (rc < 0)
            cli_err("token", "%s", why);
        else if (rc == 0)
            cli_err("token", "no token with id '%s' in %s/tokens", args[2], dir);
        else
            printf("{\"revoked\":\"%s\"}\n", args[2]);
        return rc == 1 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    return cli_usage("token", "usage: evstore token create|list|revoke DIR ... (see --help)");
}

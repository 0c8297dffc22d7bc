/*
 * cmd_tenant.c - `evstore tenant create|list ROOT [NAME]`: the tenants of a server's
 * root, ROOT/tenants/<name>/ (include/evstore_tenant.h). A running server serves a new
 * tenant at once.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

static const char tenant_help[] =
    "usage: evstore tenant create ROOT NAME\n"
    "       evstore tenant list ROOT\n"
    "\n"
    "Create a tenant (ROOT/tenants/NAME/, an empty store) or list them, one JSON object\n"
    "per line. NAME: 1 to 63 bytes, a-z or 0-9 first, then a-z, 0-9, '_' or '-'.\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 4 invalid name\n";

static const cli_optdef tenant_opts[] = {{NULL, false, 0}};

static int print_name(void *ctx, const char *name)
{
    (void)ctx;
    return printf("{\"tenant\":\"%s\"}\n", name) < 0 ? -1 : 0;
}

int cli_cmd_tenant(int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "tenant", argc, argv);
    const char *args[3] = {NULL, NULL, NULL};
    size_t nargs = 0;
    int opt;
    while ((opt = cli_parser_next(&p, tenant_opts)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP)
            return cli_help(tenant_help);
        if (opt != CLI_OPT_ARG)
            return CLI_EXIT_USAGE;
        if (nargs == 3)
            return cli_usage("tenant", "unexpected argument '%s'", p.value);
        args[nargs++] = p.value;
    }
    if (nargs == 3 && strcmp(args[0], "create") == 0) {
        int rc = evs_tenant_create(args[1], args[2], NULL);
        if (rc < 0)
            return cli_lib_err("tenant", rc);
        return print_name(NULL, args[2]) == 0 && fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    if (nargs == 2 && strcmp(args[0], "list") == 0) {
        int rc = evs_tenants_each(args[1], print_name, NULL);
        if (rc < 0)
            return cli_lib_err("tenant", rc);
        return fflush(stdout) == 0 && rc == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    return cli_usage("tenant", "usage: evstore tenant create ROOT NAME | list ROOT");
}

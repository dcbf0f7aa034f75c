/*
 * main.c - the flowsift program: dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: flowsift COMMAND [OPTIONS] ...\n"
            "\n"
            "Network traffic analytics: packet captures and flow exports to flows, statistics and answers.\n"
            "\n"
            "commands:\n"
            "  extract   packet captures -> bidirectional flows with statistical features (CSV, JSON)\n"
            "  collect   flow exports (NetFlow v5/v9, IPFIX, sFlow) over UDP/TCP or from files -> flow records\n"
            "  monitor   traffic -> per-host statistics over windows of 1 s to 1 h (live, replayed, exports)\n"
            "  stats     a collector's counters per exporter\n"
            "  query     flow records from a store, chosen by time and filter; grouping and top-N\n"
            "  retain    remove a store's oldest partitions by age or size\n"
            "  compact   merge a store's small segments, re-sort those out of time order\n"
            "  fields    list the fields of a flow record, with units\n"
            "  version   print the version\n"
            "\n"
            "Run 'flowsift COMMAND --help' for the options of a command; docs/ has the manual pages.\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "extract") == 0) return fs_cmd_extract(argc - 1, argv + 1);
    if (strcmp(cmd, "fields") == 0) return fs_cmd_fields(argc - 1, argv + 1);
    if (strcmp(cmd, "query") == 0) return fs_cmd_query(argc - 1, argv + 1);
    if (strcmp(cmd, "collect") == 0) return fs_cmd_collect(argc - 1, argv + 1);
    if (strcmp(cmd, "monitor") == 0) return fs_cmd_monitor(argc - 1, argv + 1);
    if (strcmp(cmd, "stats") == 0) return fs_cmd_stats(argc - 1, argv + 1);
    if (strcmp(cmd, "retain") == 0) return fs_cmd_retain(argc - 1, argv + 1);
    if (strcmp(cmd, "compact") == 0) return fs_cmd_compact(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("flowsift %s\n", FS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return usage(stdout);
    fprintf(stderr, "flowsift: '%s' is not a command\n\n", cmd);
    return usage(stderr);
}

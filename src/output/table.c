/* table.c - aligned text tables from CSV; see table.h. */
#include "table.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 256

/* A number: digits with at most one point (so 10.0.0.1 stays text). */
static int numeric(const char *s, size_t n)
{
    int points = 0;
    if (n && s[0] == '-') s++, n--;
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') points++;
        else if (!isdigit((unsigned char)s[i])) return 0;
    }
    return points <= 1;
}

static void measure(const char *line, size_t *w, int *ncols)
{
    int c = 0;
    for (const char *p = line;; c++) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (c < MAX_COLS && n > w[c]) w[c] = n;
        if (!e) break;
        p = e + 1;
    }
    if (c + 1 > *ncols) *ncols = c + 1 > MAX_COLS ? MAX_COLS : c + 1;
}

static void print_line(FILE *out, const char *line, const size_t *w, int ncols)
{
    int c = 0;
    for (const char *p = line;; c++) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t width = c < ncols ? w[c] : n;
        if (c) fputs("  ", out);
        if (numeric(p, n)) fprintf(out, "%*.*s", (int)width, (int)n, p);
        else if (e) fprintf(out, "%-*.*s", (int)width, (int)n, p);
        else fprintf(out, "%.*s", (int)n, p); /* no trailing blanks */
        if (!e) break;
        p = e + 1;
    }
    fputc('\n', out);
}

fs_result fs_table_print(FILE *in, FILE *out)
{
    char **sample = calloc(FS_TABLE_SAMPLE, sizeof *sample);
    if (!sample) return FS_ERR_NOMEM;
    size_t w[MAX_COLS] = { 0 }, ns = 0, cap = 0;
    int ncols = 0;
    char *line = NULL;
    ssize_t len;
    while (ns < FS_TABLE_SAMPLE && (len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n') line[len - 1] = 0;
        measure(line, w, &ncols);
        sample[ns++] = line;
        line = NULL;
        cap = 0;
    }
    for (size_t i = 0; i < ns; i++) {
        print_line(out, sample[i], w, ncols);
        free(sample[i]);
    }
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n') line[len - 1] = 0;
        print_line(out, line, w, ncols);
    }
    free(line);
    free(sample);
    return ferror(out) ? FS_ERR_IO : FS_OK;
}

/* inputs.c - expanding, peeking and ordering capture inputs; see inputs.h. */
#include "inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"

void fs_inputs_init(struct fs_input_list *l) { memset(l, 0, sizeof *l); }

void fs_inputs_release(struct fs_input_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static fs_result push(struct fs_input_list *l, const char *path, uint64_t size, int from_dir)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct fs_input *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return FS_ERR_NOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    char *p = strdup(path);
    if (!p) return FS_ERR_NOMEM;
    l->v[l->n++] = (struct fs_input){ p, size, UINT64_MAX, 0, from_dir };
    l->total_bytes += size;
    return FS_OK;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static fs_result add_dir(struct fs_input_list *l, const char *dir, char *err, size_t errlen, int depth)
{
    if (depth > 32) return FS_OK;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open directory '%s': %s", dir, strerror(errno));
        return FS_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    fs_result rc = FS_OK;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { rc = FS_ERR_NOMEM; break; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) { rc = FS_ERR_NOMEM; break; }
        snprintf(names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc == FS_OK && stat(names[i], &st) == 0) {
            if (S_ISDIR(st.st_mode)) rc = add_dir(l, names[i], err, errlen, depth + 1);
            else if (S_ISREG(st.st_mode)) rc = push(l, names[i], (uint64_t)st.st_size, 1);
        }
        free(names[i]);
    }
    free(names);
    if (rc == FS_ERR_NOMEM) snprintf(err, errlen, "out of memory listing '%s'", dir);
    return rc;
}

fs_result fs_inputs_add(struct fs_input_list *l, const char *path, char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) return push(l, path, 0, 0);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return FS_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) return add_dir(l, path, err, errlen, 0);
    fs_result rc = push(l, path, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, 0);
    if (rc) snprintf(err, errlen, "out of memory adding '%s'", path);
    return rc;
}

fs_result fs_inputs_add_from(struct fs_input_list *l, const char *listpath, char *err, size_t errlen)
{
    FILE *f = strcmp(listpath, "-") == 0 ? stdin : fopen(listpath, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open list '%s': %s", listpath, strerror(errno));
        return FS_ERR_IO;
    }
    char line[4096];
    fs_result rc = FS_OK;
    while (rc == FS_OK && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (len == 0 || line[0] == '#') continue;
        rc = fs_inputs_add(l, line, err, errlen);
    }
    if (f != stdin) fclose(f);
    return rc;
}

static int cmp_first(const void *a, const void *b)
{
    const struct fs_input *x = a, *y = b;
    if (x->first_ns != y->first_ns) return x->first_ns < y->first_ns ? -1 : 1;
    return strcmp(x->path, y->path); /* ties: by name, so the order never depends on qsort */
}

void fs_inputs_order(struct fs_input_list *l)
{
    size_t keep = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct fs_input *in = &l->v[i];
        if (strcmp(in->path, "-") == 0) { /* cannot peek at a pipe: it keeps its place (first) */
            in->first_ns = 0;
            l->v[keep++] = *in;
            continue;
        }
        struct fs_capture *c;
        fs_result rc = fs_capture_open_peek(&c, in->path, NULL, 0);
        if (rc) {
            if (in->from_dir && rc == FS_ERR_FORMAT) { /* a README or a checksum file beside the captures */
                l->skipped_not_capture++;
                l->total_bytes -= in->size;
                free(in->path);
                continue;
            }
            in->first_ns = 0; /* read it early, so its error is reported at once */
        } else {
            struct fs_capture_pkt p;
            if (fs_capture_next(c, &p) == FS_OK) in->first_ns = p.ts_ns;
            else in->first_ns = UINT64_MAX;
            in->nanosecond = fs_capture_is_nanosecond(c);
            fs_capture_free(c);
        }
        l->v[keep++] = *in;
    }
    l->n = keep;
    if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, cmp_first);
}

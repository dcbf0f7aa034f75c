/*
 * record.c - CSV and JSON lines of records of any store table (see record.h).
 */
#include "record.h"

#include <arpa/inet.h>
#include <string.h>

#include "../util/outbuf.h"

fs_result fs_record_writer_open(struct fs_record_writer *w, const char *path, const struct fs_store_schema *sc,
                                enum fs_format format, int time_decimals)
{
    memset(w, 0, sizeof *w);
    w->sc = sc;
    w->format = format;
    w->decimals = time_decimals;
    if (strcmp(path, "-") == 0) {
        w->f = stdout;
    } else {
        w->f = fopen(path, "w");
        if (!w->f) return FS_ERR_IO;
        w->owned = 1;
    }
    for (size_t c = 0; c < sc->ncols; c++) {
        const char *name = sc->cols[c].name;
        size_t len = strlen(name);
        if (len > 3 && strcmp(name + len - 3, "_ns") == 0) len -= 3; /* a time: first_ns prints as first */
        snprintf(w->names[c], sizeof w->names[c], "%.*s", (int)len, name);
        w->ver_col[c] = -1;
        if (sc->cols[c].width != 16) continue;
        char ver[48];
        snprintf(ver, sizeof ver, "%s_ipver", name);
        for (size_t k = 0; k < sc->ncols; k++)
            if (strcmp(sc->cols[k].name, ver) == 0) {
                w->ver_col[c] = (int)k;
                w->hidden[k] = 1;
            }
    }
    return FS_OK;
}

static uint64_t uint_of(const struct fs_store_schema *sc, const void *rec, size_t c)
{
    const uint8_t *p = (const uint8_t *)rec + sc->cols[c].off;
    uint64_t v = 0;
    memcpy(&v, p, sc->cols[c].width < 8 ? sc->cols[c].width : 8); /* little-endian: the low bytes */
    return v;
}

/* The CSV header line, once (also for no records at all). */
static void header(struct fs_record_writer *w)
{
    if (w->header_done || w->format != FS_FORMAT_CSV) return;
    const char *sep = "";
    for (size_t c = 0; c < w->sc->ncols; c++)
        if (!w->hidden[c]) {
            fprintf(w->f, "%s%s", sep, w->names[c]);
            sep = ",";
        }
    fputc('\n', w->f);
    w->header_done = 1;
}

void fs_record_write(struct fs_record_writer *w, const void *rec)
{
    const struct fs_store_schema *sc = w->sc;
    int json = w->format == FS_FORMAT_JSON;
    header(w);
    if (json) fputc('{', w->f);
    const char *sep = "";
    for (size_t c = 0; c < sc->ncols; c++) {
        if (w->hidden[c]) continue;
        char val[64];
        int quoted = 0;
        const char *name = sc->cols[c].name;
        size_t len = strlen(name);
        if (sc->cols[c].width == 16) {
            const uint8_t *a = (const uint8_t *)rec + sc->cols[c].off;
            uint64_t ver = w->ver_col[c] >= 0 ? uint_of(sc, rec, (size_t)w->ver_col[c]) : 6;
            if (ver == 0 || !inet_ntop(ver == 6 ? AF_INET6 : AF_INET, a, val, sizeof val)) val[0] = 0;
            quoted = ver != 0; /* no address (version 0): empty in CSV, null in JSON */
            if (!quoted && json) strcpy(val, "null");
        } else if (sc->cols[c].width > 8) {
            val[0] = 0; /* no table has such a column yet */
        } else if (len > 3 && strcmp(name + len - 3, "_ns") == 0) {
            *fs_fmt_time(val, uint_of(sc, rec, c), w->decimals) = 0;
        } else {
            *fs_fmt_u64(val, uint_of(sc, rec, c)) = 0;
        }
        if (json)
            fprintf(w->f, quoted ? "%s\"%s\":\"%s\"" : "%s\"%s\":%s", sep, w->names[c], val);
        else
            fprintf(w->f, "%s%s", sep, val);
        sep = ",";
    }
    fputs(json ? "}\n" : "\n", w->f);
    w->written++;
}

fs_result fs_record_writer_close(struct fs_record_writer *w)
{
    if (!w->f) return FS_OK;
    header(w);
    int bad = fflush(w->f) != 0 || ferror(w->f);
    if (w->owned && fclose(w->f) != 0) bad = 1;
    w->f = NULL;
    return bad ? FS_ERR_IO : FS_OK;
}

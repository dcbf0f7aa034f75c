/*
 * record.c - CSV and JSON lines of records of any store table (see record.h).
 */
#include "record.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../util/outbuf.h"

enum { KIND_UINT, KIND_TIME, KIND_ADDR, KIND_NONE };

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
        w->kind[c] = sc->cols[c].width == 16 ? KIND_ADDR : sc->cols[c].width > 8 ? KIND_NONE : KIND_UINT;
        if (len > 3 && strcmp(name + len - 3, "_ns") == 0) { /* a time: first_ns prints as first */
            len -= 3;
            if (w->kind[c] == KIND_UINT) w->kind[c] = KIND_TIME;
        }
        snprintf(w->names[c], sizeof w->names[c], "%.*s", (int)len, name);
        w->name_len[c] = (unsigned char)snprintf(w->json_key[c], sizeof w->json_key[c], "\"%s\":", w->names[c]);
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
    switch (sc->cols[c].width) { /* fixed sizes: loads, not a call to memcpy */
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; } /* the low 8 bytes (little-endian) */
    }
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
    size_t need = 2 + sc->ncols * (sizeof w->json_key[0] + 64 + 6);
    if (need > w->line_cap) {
        char *l = realloc(w->line, need);
        if (!l) {
            w->failed = 1; /* reported by fs_record_writer_close() */
            return;
        }
        w->line = l;
        w->line_cap = need;
    }
    char *p = w->line;
    if (json) *p++ = '{';
    int first = 1;
    for (size_t c = 0; c < sc->ncols; c++) {
        if (w->hidden[c]) continue;
        if (!first) *p++ = ',';
        first = 0;
        if (json) { /* "name": copied as a whole buffer (a fixed size: moves, not a string copy) */
            memcpy(p, w->json_key[c], sizeof w->json_key[c]);
            p += w->name_len[c];
        }
        switch (w->kind[c]) {
        case KIND_ADDR: {
            const uint8_t *a = (const uint8_t *)rec + sc->cols[c].off;
            uint64_t ver = w->ver_col[c] >= 0 ? uint_of(sc, rec, (size_t)w->ver_col[c]) : 6;
            if (ver != 4 && ver != 6) { /* no address: empty in CSV, null in JSON */
                if (json) {
                    memcpy(p, "null", 4);
                    p += 4;
                }
                break;
            }
            if (json) *p++ = '"';
            p = fs_fmt_addr(p, a, (int)ver);
            if (json) *p++ = '"';
            break;
        }
        case KIND_TIME: p = fs_fmt_time(p, uint_of(sc, rec, c), w->decimals); break;
        case KIND_UINT: {
            uint64_t v = uint_of(sc, rec, c);
            if (v < 10) *p++ = (char)('0' + v); /* most columns of most records: zero */
            else p = fs_fmt_u64(p, v);
            break;
        }
        default: break; /* no table has such a column yet */
        }
    }
    if (json) *p++ = '}';
    *p++ = '\n';
    fwrite(w->line, 1, (size_t)(p - w->line), w->f);
    w->written++;
}

fs_result fs_record_writer_close(struct fs_record_writer *w)
{
    if (!w->f) return FS_OK;
    header(w);
    int bad = fflush(w->f) != 0 || ferror(w->f) || w->failed;
    if (w->owned && fclose(w->f) != 0) bad = 1;
    w->f = NULL;
    free(w->line);
    w->line = NULL;
    return bad ? FS_ERR_IO : FS_OK;
}

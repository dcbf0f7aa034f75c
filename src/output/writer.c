/* writer.c - CSV and JSON-lines output of flow records; see writer.h. */
#include "writer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* "0".."255" with their length in the fourth byte, for dotted quads. */
static char octets[256][4];

static void octets_init(void)
{
    if (octets[1][3]) return;
    for (int i = 0; i < 256; i++) octets[i][3] = (char)fs_u64_to_str((uint64_t)i, octets[i]);
}

static fs_result setup(struct fs_writer *w, enum fs_format format, const int *fields,
                       char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx);

fs_result fs_writer_open(struct fs_writer *w, const char *path, enum fs_format format, const int *fields,
                         char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx)
{
    fs_result rc = setup(w, format, fields, labels, nfields, ctx);
    return rc ? rc : fs_outbuf_open(&w->out, path);
}

fs_result fs_writer_init_fd(struct fs_writer *w, int fd, enum fs_format format, const int *fields,
                            char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx)
{
    fs_result rc = setup(w, format, fields, labels, nfields, ctx);
    return rc ? rc : fs_outbuf_init_fd(&w->out, fd);
}

static fs_result setup(struct fs_writer *w, enum fs_format format, const int *fields,
                       char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx)
{
    memset(w, 0, sizeof *w);
    if (nfields > FS_WRITER_MAX_FIELDS) return FS_ERR_ARG;
    octets_init();
    w->format = format;
    memcpy(w->fields, fields, (size_t)nfields * sizeof *fields);
    for (int i = 0; i < nfields; i++)
        snprintf(w->labels[i], FS_FIELD_LABEL_MAX, "%s", labels ? labels[i] : fs_field_at((size_t)fields[i])->name);
    w->nfields = nfields;
    w->time_decimals = 6;
    if (ctx) w->ctx = *ctx;
    return FS_OK;
}

void fs_writer_set_time_decimals(struct fs_writer *w, int decimals) { w->time_decimals = decimals; }

fs_result fs_writer_clone(struct fs_writer *w, const struct fs_writer *from, pthread_mutex_t *lock)
{
    *w = *from;
    w->records = 0;
    w->header_done = 1;
    fs_result rc = fs_outbuf_init_fd(&w->out, from->out.fd);
    w->out.lock = lock;
    return rc;
}

static void header(struct fs_writer *w)
{
    w->header_done = 1;
    if (w->format != FS_FORMAT_CSV) return;
    for (int i = 0; i < w->nfields; i++) {
        if (i) fs_outbuf_putc(&w->out, ',');
        fs_outbuf_puts(&w->out, w->labels[i]);
    }
    fs_outbuf_putc(&w->out, '\n');
}

static void put_value(struct fs_writer *w, const struct fs_field *fd, const struct fs_value *v)
{
    fs_put_value(&w->out, w->format == FS_FORMAT_JSON, w->time_decimals, fd, v);
}

void fs_put_value(struct fs_outbuf *o, int json, int time_decimals, const struct fs_field *fd, const struct fs_value *v)
{
    if (v->missing) {
        if (json) fs_outbuf_puts(o, "null");
        return;
    }
    switch (v->type) {
    case FS_FT_U64: fs_outbuf_u64(o, v->u); break;
    case FS_FT_DOUBLE: fs_outbuf_fixed(o, v->d, fd->decimals); break;
    case FS_FT_TIME: fs_outbuf_time(o, v->u, time_decimals); break;
    case FS_FT_ADDR: {
        char buf[INET6_ADDRSTRLEN];
        if (v->ipver == 4) {
            size_t n = 0;
            for (int k = 0; k < 4; k++) {
                const char *oct = octets[v->addr[k]];
                size_t len = (size_t)oct[3];
                memcpy(buf + n, oct, 4);
                n += len;
                buf[n++] = '.';
            }
            buf[n - 1] = 0;
        } else {
            inet_ntop(AF_INET6, v->addr, buf, sizeof buf);
        }
        if (json) fs_outbuf_json_str(o, buf);
        else fs_outbuf_puts(o, buf);
        break;
    }
    case FS_FT_STR:
        if (json) fs_outbuf_json_str(o, v->s);
        else fs_outbuf_puts(o, v->s);
        break;
    }
}

void fs_writer_header(struct fs_writer *w)
{
    if (!w->header_done) header(w);
}

/* A record is never split between two writes: room for the largest one is made before it starts. */
#define RECORD_ROOM (64u << 10)

void fs_writer_flow(struct fs_writer *w, const struct fs_flow *flow)
{
    if (!w->header_done) header(w);
    if (FS_OUTBUF_SIZE - w->out.len < RECORD_ROOM) fs_outbuf_flush(&w->out);
    int json = w->format == FS_FORMAT_JSON;
    struct fs_flow_view view;
    fs_flow_view_init(&view, flow, &w->ctx);
    if (json) fs_outbuf_putc(&w->out, '{');
    for (int i = 0; i < w->nfields; i++) {
        const struct fs_field *fd = fs_field_at((size_t)w->fields[i]);
        struct fs_value v;
        fs_field_get(&view, (size_t)w->fields[i], &v);
        if (i) fs_outbuf_putc(&w->out, ',');
        if (json) {
            fs_outbuf_putc(&w->out, '"');
            fs_outbuf_puts(&w->out, w->labels[i]);
            fs_outbuf_puts(&w->out, "\":");
        }
        put_value(w, fd, &v);
    }
    if (json) fs_outbuf_putc(&w->out, '}');
    fs_outbuf_putc(&w->out, '\n');
    w->records++;
}

fs_result fs_writer_close(struct fs_writer *w)
{
    if (!w->header_done && w->out.buf) header(w);
    return fs_outbuf_close(&w->out);
}

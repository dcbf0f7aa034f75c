/* writer.c - CSV and JSON-lines output of flow records; see writer.h. */
#include "writer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* "0".."255" with their length in the fourth byte, for dotted quads. */
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
    w->format = format;
    memcpy(w->fields, fields, (size_t)nfields * sizeof *fields);
    for (int i = 0; i < nfields; i++) {
        w->fds[i] = fs_field_at((size_t)fields[i]);
        size_t off[2];
        unsigned width[2];
        int how = fs_field_members((size_t)fields[i], off, width);
        w->direct[i].how = (uint8_t)how;
        for (int k = 0; k < 2 && how; k++) {
            w->direct[i].off[k] = (uint16_t)off[k];
            w->direct[i].width[k] = (uint8_t)width[k];
        }
    }
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

static char *fmt_addr(char *p, const struct fs_value *v) { return fs_fmt_addr(p, v->addr, v->ipver); }

/* Formats a value as a CSV cell at p, which has room for FS_FMT_MAX bytes; returns the end. */
static char *fmt_csv(char *p, int time_decimals, const struct fs_field *fd, const struct fs_value *v)
{
    if (v->missing) return p;
    switch (v->type) {
    case FS_FT_U64: return fs_fmt_u64(p, v->u);
    case FS_FT_DOUBLE: return fs_fmt_fixed(p, v->d, fd->decimals);
    case FS_FT_TIME: return fs_fmt_time(p, v->u, time_decimals);
    case FS_FT_ADDR: return fmt_addr(p, v);
    case FS_FT_STR: {
        size_t n = strlen(v->s); /* field strings are short: names, flag letters (field.h) */
        memcpy(p, v->s, n);
        return p + n;
    }
    }
    return p;
}

void fs_put_value(struct fs_outbuf *o, int json, int time_decimals, const struct fs_field *fd, const struct fs_value *v)
{
    if (json && v->missing) {
        fs_outbuf_puts(o, "null");
        return;
    }
    if (json && (v->type == FS_FT_ADDR || v->type == FS_FT_STR)) {
        char buf[FS_FMT_MAX];
        const char *s = v->s;
        if (v->type == FS_FT_ADDR) {
            *fmt_addr(buf, v) = 0;
            s = buf;
        }
        fs_outbuf_json_str(o, s);
        return;
    }
    fs_outbuf_ensure(o, FS_FMT_MAX);
    o->len = (size_t)(fmt_csv(o->buf + o->len, time_decimals, fd, v) - o->buf);
}

void fs_writer_header(struct fs_writer *w)
{
    if (!w->header_done) header(w);
}

static inline uint64_t member(const uint8_t *p, unsigned width)
{
    switch (width) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

/* A record is never split between two writes (threads share the descriptor): room for the largest one is
 * made before it starts. */
#define RECORD_ROOM (FS_WRITER_MAX_FIELDS * (FS_FIELD_LABEL_MAX + FS_FMT_MAX + 8) + 8)

void fs_writer_flow(struct fs_writer *w, const struct fs_flow *flow)
{
    if (!w->header_done) header(w);
    if (FS_OUTBUF_SIZE - w->out.len < RECORD_ROOM) fs_outbuf_flush(&w->out);
    struct fs_flow_view view;
    fs_flow_view_init(&view, flow, &w->ctx);
    struct fs_value v;
    if (w->format == FS_FORMAT_CSV) {
        /* the hot path: straight into the buffer, whose room was made above */
        char *p = w->out.buf + w->out.len;
        int exported = (flow->state & FS_FLOW_EXPORTED) != 0; /* some members are unknown: fs_field_get says */
        for (int i = 0; i < w->nfields; i++) {
            if (i) *p++ = ',';
            if (w->direct[i].how && !exported) { /* a member of the record, or the sum of two: no value struct */
                const uint8_t *r = (const uint8_t *)flow;
                uint64_t u = member(r + w->direct[i].off[0], w->direct[i].width[0]);
                if (w->direct[i].how == 2) u += member(r + w->direct[i].off[1], w->direct[i].width[1]);
                p = w->fds[i]->type == FS_FT_TIME ? fs_fmt_time(p, u, w->time_decimals) : fs_fmt_u64(p, u);
                continue;
            }
            fs_field_get(&view, (size_t)w->fields[i], &v);
            p = fmt_csv(p, w->time_decimals, w->fds[i], &v);
        }
        *p++ = '\n';
        w->out.len = (size_t)(p - w->out.buf);
    } else {
        fs_outbuf_putc(&w->out, '{');
        for (int i = 0; i < w->nfields; i++) {
            fs_field_get(&view, (size_t)w->fields[i], &v);
            if (i) fs_outbuf_putc(&w->out, ',');
            fs_outbuf_putc(&w->out, '"');
            fs_outbuf_puts(&w->out, w->labels[i]);
            fs_outbuf_puts(&w->out, "\":");
            fs_put_value(&w->out, 1, w->time_decimals, w->fds[i], &v);
        }
        fs_outbuf_puts(&w->out, "}\n");
    }
    w->records++;
}
fs_result fs_writer_close(struct fs_writer *w)
{
    if (!w->header_done && w->out.buf) header(w);
    return fs_outbuf_close(&w->out);
}

/*
 * filter.c - recursive-descent parser and tree evaluator for filter expressions.
 *
 * The parser builds a small tree of nodes in one array (no allocation per
 * node); evaluation walks it with short-circuit and/or. Comparisons take their
 * type from the field: numbers compare numerically, addresses bytewise, words
 * as strings. A missing value (an ICMP type of a TCP flow) matches nothing.
 */
#include "filter.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 512
#define MAX_DEPTH 64 /* parentheses: the parser recurses once per level */

enum node_kind { N_AND, N_OR, N_NOT, N_CMP, N_NET, N_PORT, N_IPVER };
enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE }; /* the order of enum fs_colpred_op */
enum side { SIDE_ANY, SIDE_SRC, SIDE_DST };

struct node {
    enum node_kind kind;
    int l, r;            /* children (AND, OR, NOT uses l) */
    int field;           /* CMP */
    enum op op;
    enum side side;      /* NET, PORT */
    double num;          /* CMP on numbers, PORT, IPVER */
    int is_int;
    uint64_t u;
    uint8_t addr[16];    /* CMP on ADDR, NET */
    int ipver, prefix;
    char word[32];       /* CMP on STR */
};

struct fs_filter {
    struct node nodes[MAX_NODES];
    int n, root;
};

struct parser {
    const char *src;
    const char *p;
    struct fs_filter *f;
    char *err;
    size_t errlen;
    size_t col;
    int failed;
    int depth;
    /* current token */
    const char *tok;
    size_t toklen;
};

static int perr(struct parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->failed) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    ps->col = (size_t)(at - ps->src) + 1;
    ps->failed = 1;
    return -1;
}

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '-'; }

/* Reads the next token into ps->tok/toklen (toklen 0 at the end). */
static void next(struct parser *ps)
{
    while (isspace((unsigned char)*ps->p)) ps->p++;
    ps->tok = ps->p;
    const char *p = ps->p;
    if (!*p) {
        ps->toklen = 0;
        return;
    }
    if ((p[0] == '=' && p[1] == '=') || (p[0] == '!' && p[1] == '=') || (p[0] == '<' && p[1] == '=') ||
        (p[0] == '>' && p[1] == '=') || (p[0] == '&' && p[1] == '&') || (p[0] == '|' && p[1] == '|'))
        ps->toklen = 2;
    else if (strchr("=<>()!", p[0]))
        ps->toklen = 1;
    else if (is_word_char(p[0])) {
        size_t n = 0;
        while (is_word_char(p[n])) n++;
        ps->toklen = n;
    } else
        ps->toklen = 1; /* an unexpected character: reported by whoever reads it */
    ps->p += ps->toklen;
}

static int tok_is(const struct parser *ps, const char *s)
{
    return ps->toklen == strlen(s) && strncmp(ps->tok, s, ps->toklen) == 0;
}

static int new_node(struct parser *ps, enum node_kind k)
{
    if (ps->f->n >= MAX_NODES) return perr(ps, ps->tok, "expression too long (more than %d terms)", MAX_NODES);
    int i = ps->f->n++;
    memset(&ps->f->nodes[i], 0, sizeof ps->f->nodes[i]);
    ps->f->nodes[i].kind = k;
    return i;
}

static int parse_expr(struct parser *ps);

int fs_proto_by_name(const char *name)
{
    static const struct { const char *n; int v; } t[] = {
        { "icmp", 1 }, { "igmp", 2 }, { "ipip", 4 }, { "tcp", 6 }, { "udp", 17 }, { "ipv6", 41 }, { "gre", 47 },
        { "esp", 50 }, { "ah", 51 }, { "icmp6", 58 }, { "icmpv6", 58 }, { "ipv6-icmp", 58 }, { "ospf", 89 },
        { "pim", 103 }, { "vrrp", 112 }, { "sctp", 132 }, { "udplite", 136 }, { "dccp", 33 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].n, name) == 0) return t[i].v;
    return -1;
}

static int tok_copy(const struct parser *ps, char *buf, size_t len)
{
    if (ps->toklen >= len) return -1;
    memcpy(buf, ps->tok, ps->toklen);
    buf[ps->toklen] = 0;
    return 0;
}

/* Parses a number with an optional k/M/G suffix. */
static int parse_number(const char *s, double *out, int *is_int, uint64_t *u)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return -1;
    double mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1e3, end++;
    else if (*end == 'M') mult = 1e6, end++;
    else if (*end == 'G') mult = 1e9, end++;
    if (*end) return -1;
    v *= mult;
    *out = v;
    *is_int = v >= 0 && v < 1.8e19 && (double)(uint64_t)v == v;
    *u = *is_int ? (uint64_t)v : 0;
    return 0;
}

static int parse_addr(const char *s, uint8_t *addr, int *ipver)
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *ipver = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *ipver = 6;
        return 0;
    }
    return -1;
}

static int parse_prefix(struct parser *ps, int node, const char *at)
{
    char buf[64];
    if (tok_copy(ps, buf, sizeof buf) < 0) return perr(ps, at, "address too long");
    char *slash = strchr(buf, '/');
    struct node *n = &ps->f->nodes[node];
    int plen = -1;
    if (slash) {
        *slash = 0;
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v < 0) return perr(ps, at, "bad prefix length in '%s'", slash + 1);
        plen = (int)v;
    }
    if (parse_addr(buf, n->addr, &n->ipver) < 0) return perr(ps, at, "'%s' is not an IPv4 or IPv6 address", buf);
    int maxlen = n->ipver == 4 ? 32 : 128;
    if (plen < 0) plen = maxlen;
    if (plen > maxlen) return perr(ps, at, "prefix length %d is longer than %d", plen, maxlen);
    n->prefix = plen;
    for (int bit = plen; bit < 128; bit++) n->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8)); /* host bits off */
    next(ps);
    return node;
}

static int parse_primary(struct parser *ps)
{
    const char *at = ps->tok;
    if (ps->toklen == 0) return perr(ps, at, "expression ends where a condition was expected");
    if (tok_is(ps, "(")) {
        if (++ps->depth > MAX_DEPTH) return perr(ps, at, "parentheses nested deeper than %d", MAX_DEPTH);
        next(ps);
        int e = parse_expr(ps);
        ps->depth--;
        if (e < 0) return -1;
        if (!tok_is(ps, ")")) return perr(ps, ps->tok, "expected ')'");
        next(ps);
        return e;
    }
    enum side side = SIDE_ANY;
    if (tok_is(ps, "src") || tok_is(ps, "dst")) {
        const char *save_p = ps->p;
        const char *save_tok = ps->tok;
        size_t save_len = ps->toklen;
        side = tok_is(ps, "src") ? SIDE_SRC : SIDE_DST;
        next(ps);
        if (!(tok_is(ps, "host") || tok_is(ps, "net") || tok_is(ps, "port"))) { /* "src" the field alias */
            ps->p = save_p;
            ps->tok = save_tok;
            ps->toklen = save_len;
            side = SIDE_ANY;
        }
    }
    if (tok_is(ps, "host") || tok_is(ps, "net")) {
        int is_host = tok_is(ps, "host");
        next(ps);
        if (!ps->toklen) return perr(ps, ps->tok, "expected an address after '%s'", is_host ? "host" : "net");
        int n = new_node(ps, N_NET);
        if (n < 0) return -1;
        ps->f->nodes[n].side = side;
        const char *vat = ps->tok;
        if (is_host && memchr(ps->tok, '/', ps->toklen)) return perr(ps, vat, "'host' takes an address, not a prefix");
        return parse_prefix(ps, n, vat);
    }
    if (tok_is(ps, "port")) {
        next(ps);
        char buf[32];
        double v;
        int isint;
        uint64_t u;
        if (!ps->toklen || tok_copy(ps, buf, sizeof buf) < 0 || parse_number(buf, &v, &isint, &u) < 0 || !isint ||
            u > 65535)
            return perr(ps, ps->tok, "expected a port number (0-65535)");
        int n = new_node(ps, N_PORT);
        if (n < 0) return -1;
        ps->f->nodes[n].side = side;
        ps->f->nodes[n].u = u;
        next(ps);
        return n;
    }
    if (side != SIDE_ANY) return perr(ps, ps->tok, "expected 'host', 'net' or 'port'");
    if (tok_is(ps, "ip4") || tok_is(ps, "ip6")) {
        int n = new_node(ps, N_IPVER);
        if (n < 0) return -1;
        ps->f->nodes[n].u = tok_is(ps, "ip4") ? 4 : 6;
        next(ps);
        return n;
    }
    char word[64];
    if (tok_copy(ps, word, sizeof word) < 0 || !is_word_char(*ps->tok))
        return perr(ps, at, "unexpected '%.*s'", (int)(ps->toklen > 20 ? 20 : ps->toklen), ps->tok);
    int proto = fs_proto_by_name(word);
    if (proto >= 0 && strcmp(word, "ipip") != 0 && strcmp(word, "ipv6") != 0) { /* "tcp" alone */
        int n = new_node(ps, N_CMP);
        if (n < 0) return -1;
        ps->f->nodes[n].field = fs_field_find("proto");
        ps->f->nodes[n].op = OP_EQ;
        ps->f->nodes[n].num = proto;
        ps->f->nodes[n].u = (uint64_t)proto;
        ps->f->nodes[n].is_int = 1;
        next(ps);
        return n;
    }
    int field = fs_field_find(word);
    if (field < 0) return perr(ps, at, "unknown field '%s' (see `flowsift fields`)", word);
    next(ps);
    enum op op = OP_EQ;
    static const struct { const char *s; enum op op; } ops[] = {
        { "==", OP_EQ }, { "=", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE }, { "<", OP_LT }, { ">", OP_GT },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (tok_is(ps, ops[i].s)) {
            op = ops[i].op;
            next(ps);
            break;
        }
    const char *vat = ps->tok;
    if (!ps->toklen || !is_word_char(*ps->tok)) return perr(ps, vat, "expected a value after '%s'", word);
    int n = new_node(ps, N_CMP);
    if (n < 0) return -1;
    struct node *nd = &ps->f->nodes[n];
    nd->field = field;
    nd->op = op;
    char val[64];
    if (tok_copy(ps, val, sizeof val) < 0) return perr(ps, vat, "value too long");
    const struct fs_field *fd = fs_field_at((size_t)field);
    switch (fd->type) {
    case FS_FT_ADDR:
        if (parse_addr(val, nd->addr, &nd->ipver) < 0) return perr(ps, vat, "'%s' is not an IP address", val);
        break;
    case FS_FT_STR:
        if (op != OP_EQ && op != OP_NE) return perr(ps, vat, "'%s' is a word: compare it with == or !=", word);
        if (strlen(val) >= sizeof nd->word) return perr(ps, vat, "value too long");
        strcpy(nd->word, val);
        break;
    default:
        if (strcmp(fd->name, "proto") == 0 && fs_proto_by_name(val) >= 0) {
            nd->num = fs_proto_by_name(val);
            nd->u = (uint64_t)nd->num;
            nd->is_int = 1;
        } else if (parse_number(val, &nd->num, &nd->is_int, &nd->u) < 0) {
            return perr(ps, vat, "'%s' is not a number", val);
        }
        if (fd->type == FS_FT_TIME) { /* given in seconds; compare in ns */
            nd->num *= 1e9;
            nd->is_int = 0;
        }
    }
    next(ps);
    return n;
}

static int parse_factor(struct parser *ps)
{
    if (tok_is(ps, "not") || tok_is(ps, "!")) {
        next(ps);
        int c = parse_factor(ps);
        if (c < 0) return -1;
        int n = new_node(ps, N_NOT);
        if (n < 0) return -1;
        ps->f->nodes[n].l = c;
        return n;
    }
    return parse_primary(ps);
}

static int parse_binary(struct parser *ps, int is_or)
{
    int l = is_or ? parse_binary(ps, 0) : parse_factor(ps);
    if (l < 0) return -1;
    while (is_or ? (tok_is(ps, "or") || tok_is(ps, "||")) : (tok_is(ps, "and") || tok_is(ps, "&&"))) {
        next(ps);
        int r = is_or ? parse_binary(ps, 0) : parse_factor(ps);
        if (r < 0) return -1;
        int n = new_node(ps, is_or ? N_OR : N_AND);
        if (n < 0) return -1;
        ps->f->nodes[n].l = l;
        ps->f->nodes[n].r = r;
        l = n;
    }
    return l;
}

static int parse_expr(struct parser *ps) { return parse_binary(ps, 1); }

fs_result fs_filter_compile(const char *expr, struct fs_filter **out, char *err, size_t errlen, size_t *col)
{
    struct fs_filter *f = calloc(1, sizeof *f);
    if (!f) return FS_ERR_NOMEM;
    char dummy[8];
    struct parser ps = { .src = expr, .p = expr, .f = f, .err = err ? err : dummy,
                         .errlen = err ? errlen : sizeof dummy };
    next(&ps);
    int root = parse_expr(&ps);
    if (root >= 0 && ps.toklen) root = perr(&ps, ps.tok, "unexpected '%.*s' after a complete expression",
                                            (int)(ps.toklen > 20 ? 20 : ps.toklen), ps.tok);
    if (root < 0) {
        if (col) *col = ps.col;
        free(f);
        return FS_ERR_ARG;
    }
    f->root = root;
    *out = f;
    return FS_OK;
}

static int cmp_result(int c, enum op op)
{
    switch (op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    case OP_GE: return c >= 0;
    }
    return 0;
}

static int in_prefix(const uint8_t *a, int ipver, const struct node *n)
{
    if (ipver != n->ipver) return 0;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(a, n->addr, (size_t)full) != 0) return 0;
    if (rest && ((a[full] & (uint8_t)(0xff << (8 - rest))) != n->addr[full])) return 0;
    return 1;
}

static int eval(const struct fs_filter *f, int i, const struct fs_flow *flow, struct fs_flow_view *view)
{
    const struct node *n = &f->nodes[i];
    switch (n->kind) {
    case N_AND: return eval(f, n->l, flow, view) && eval(f, n->r, flow, view);
    case N_OR: return eval(f, n->l, flow, view) || eval(f, n->r, flow, view);
    case N_NOT: return !eval(f, n->l, flow, view);
    case N_IPVER: return flow->key.ipver == n->u;
    case N_PORT:
        return (n->side != SIDE_DST && flow->key.pa == n->u) || (n->side != SIDE_SRC && flow->key.pb == n->u);
    case N_NET:
        return (n->side != SIDE_DST && in_prefix(flow->key.a, flow->key.ipver, n)) ||
               (n->side != SIDE_SRC && in_prefix(flow->key.b, flow->key.ipver, n));
    case N_CMP: {
        struct fs_value v;
        fs_field_get(view, (size_t)n->field, &v);
        if (v.missing) return 0;
        int c;
        switch (v.type) {
        case FS_FT_ADDR:
            if (v.ipver != n->ipver) return n->op == OP_NE;
            c = memcmp(v.addr, n->addr, 16);
            break;
        case FS_FT_STR:
            c = strcmp(v.s, n->word);
            break;
        case FS_FT_DOUBLE:
            c = v.d < n->num ? -1 : v.d > n->num;
            break;
        default:
            if (n->is_int) c = v.u < n->u ? -1 : v.u > n->u;
            else c = (double)v.u < n->num ? -1 : (double)v.u > n->num;
        }
        return cmp_result(c, n->op);
    }
    }
    return 0;
}

int fs_filter_match(const struct fs_filter *f, const struct fs_flow *flow, const struct fs_field_ctx *ctx)
{
    struct fs_flow_view view;
    fs_flow_view_init(&view, flow, ctx);
    return eval(f, f->root, flow, &view);
}

void fs_filter_free(struct fs_filter *f) { free(f); }

void fs_filter_fields(const struct fs_filter *f, void (*fn)(void *arg, int field), void *arg)
{
    for (int i = 0; i < f->n; i++) {
        const struct node *n = &f->nodes[i];
        if (n->kind == N_CMP) fn(arg, n->field);
        else if (n->kind == N_NET || n->kind == N_PORT || n->kind == N_IPVER) fn(arg, -1);
    }
}

/* The conjunct at node i as a column condition; 0 if it has not that form. */
static int colpred_of(const struct fs_filter *f, int i, struct fs_colpred *p)
{
    const struct node *n = &f->nodes[i];
    memset(p, 0, sizeof *p);
    p->op = FS_COLPRED_EQ;
    p->value = n->u;
    switch (n->kind) {
    case N_IPVER: snprintf(p->col[0], FS_COLPRED_NAME, "ipver"); return 1;
    case N_PORT:
        if (n->side == SIDE_ANY) {
            p->mode = FS_COLPRED_EITHER;
            snprintf(p->col[0], FS_COLPRED_NAME, "port_src");
            snprintf(p->col[1], FS_COLPRED_NAME, "port_dst");
        } else {
            snprintf(p->col[0], FS_COLPRED_NAME, n->side == SIDE_SRC ? "port_src" : "port_dst");
        }
        return 1;
    case N_CMP: {
        const struct fs_field *fd = fs_field_at((size_t)n->field);
        if (!n->is_int || (fd->type != FS_FT_U64 && fd->type != FS_FT_TIME)) return 0;
        char col[2][FS_FIELD_LABEL_MAX];
        int how = fs_field_stored((size_t)n->field, col);
        if (!how) return 0;
        p->mode = how == 2 ? FS_COLPRED_SUM : FS_COLPRED_ONE;
        p->op = (enum fs_colpred_op)n->op; /* the same order */
        snprintf(p->col[0], FS_COLPRED_NAME, "%s", col[0]);
        if (how == 2) snprintf(p->col[1], FS_COLPRED_NAME, "%s", col[1]);
        return 1;
    }
    default: return 0;
    }
}

static void colpreds_of(const struct fs_filter *f, int i, struct fs_colpred *out, size_t max, size_t *n, int *rest)
{
    if (f->nodes[i].kind == N_AND) {
        colpreds_of(f, f->nodes[i].l, out, max, n, rest);
        colpreds_of(f, f->nodes[i].r, out, max, n, rest);
    } else if (*n < max && colpred_of(f, i, &out[*n])) {
        ++*n;
    } else {
        *rest = 1;
    }
}

size_t fs_filter_colpreds(const struct fs_filter *f, struct fs_colpred *out, size_t max, int *whole)
{
    size_t n = 0;
    int rest = 0;
    colpreds_of(f, f->root, out, max, &n, &rest);
    if (whole) *whole = !rest;
    return n;
}

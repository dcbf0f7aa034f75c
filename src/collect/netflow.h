/*
 * netflow.h - decoding of flow exports: NetFlow v5, NetFlow v9 (RFC 3954), IPFIX (RFC 7011, biflows
 * RFC 5103) and sFlow v5 messages, into flow records (flow.h) with their provenance.
 *
 * sFlow flow samples are one sampled packet each: the packet header they carry is decoded by extract's packet
 * decoder (VLANs, tunnels and all), and the record is that packet's, exact, with the sampling rate; the agent
 * address and sub-agent id are the exporter and domain. Counter samples (interface counters) become interface
 * counter records (ifcounters.h), passed to the callback fs_nf_on_counters() sets.
 *
 * One decoder serves any number of exporters. Templates are kept per (exporter address and port, observation
 * domain or source id, template id); a data set with no template in its own scope uses one the same address sent
 * for the same domain from another port (counted), as collectors keying by address do. Templates are replaced when an exporter sends a template of the same id again and
 * withdrawn as RFC 7011 section 8.1 says. Options records carrying a sampling interval set the sampling of
 * their exporter's domain, which later records keep. A data set whose template has not been seen is kept
 * (at most 64 sets and 256 KB per exporter, for 10 minutes unless fs_nf_set_hold() says otherwise) and decoded when the template
 * comes; what waits longer is dropped and counted. Information elements the decoder does not use, including enterprise-specific ones, are skipped
 * by their length and counted. Everything read is bounds-checked: a malformed message is counted by reason,
 * with what was decoded before the damage kept.
 *
 * Templates can be saved to a file and restored from it, so that a restarted collector decodes data at once.
 *
 * Ownership: the decoder owns its template and exporter tables; fs_nf_free() releases them. Records passed
 * to the emit callback are lent for the call.
 */
#ifndef FS_NETFLOW_H
#define FS_NETFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../flow/flow.h"
#include "../flow/ifcounters.h"
#include "../util/result.h"

/* Who sent a message: the address and port it came from. */
struct fs_export_origin {
    uint8_t addr[16];  /* IPv4 in the first 4 bytes */
    uint8_t ipver;     /* 4 or 6 */
    uint16_t port;
};

enum fs_nf_problem {
    FS_NF_TRUNCATED,        /* a header, set or record runs past the end of the message */
    FS_NF_BAD_VERSION,      /* not 5, 9 or 10 */
    FS_NF_BAD_LENGTH,       /* a length field disagrees with the bytes present */
    FS_NF_BAD_TEMPLATE,     /* a template with zero-length or impossible fields */
    FS_NF_BAD_SET_ID,       /* a set id below 256 that is not a template set */
    FS_NF_PROBLEM_COUNT
};

const char *fs_nf_problem_name(unsigned p);

/* Counters of one exporter (address, port, domain) or of all. */
struct fs_nf_counters {
    uint64_t messages;           /* datagrams (or file messages) decoded, in whole or in part */
    uint64_t records;            /* flow records emitted */
    uint64_t templates;          /* templates and options templates learnt or replaced */
    uint64_t withdrawals;        /* templates withdrawn */
    uint64_t options_records;    /* options data records (sampling and the like) */
    uint64_t held;               /* data sets that came before their template, kept for it (bounded) */
    uint64_t late_records;       /* records decoded from them once their template came */
    uint64_t missing_template;   /* data sets dropped: their template did not come in time (or at all) */
    uint64_t sequence_gaps;      /* records (v5, IPFIX) or messages (v9) the sequence numbers say were lost */
    uint64_t unknown_fields;     /* fields of data records the decoder skipped (unused or enterprise) */
    uint64_t counter_samples;    /* sFlow counter samples (not flows) */
    uint64_t other_port_records;    /* records decoded with a template the same exporter sent from another port */
    uint64_t refused;            /* messages not decoded: the exporter table was full (or memory ran out) */
    uint64_t malformed[FS_NF_PROBLEM_COUNT];
};

#define FS_NF_SFLOW5 55 /* fs_nf_exporter_stats.version of an sFlow v5 agent (5, 9 and 10 are NetFlow, IPFIX) */

struct fs_nf_exporter_stats {
    struct fs_export_origin origin;
    uint32_t domain;
    uint8_t version;
    struct fs_nf_counters c;
};

struct fs_nf_decoder;

fs_result fs_nf_new(struct fs_nf_decoder **out);
void fs_nf_free(struct fs_nf_decoder *d);

typedef void (*fs_nf_emit_fn)(void *arg, struct fs_flow *f);

/* sFlow counter samples go to fn (the record lent for the call); without it they are only counted. */
typedef void (*fs_nf_counters_fn)(void *arg, const struct fs_ifcounters *k);
void fs_nf_on_counters(struct fs_nf_decoder *d, fs_nf_counters_fn fn, void *arg);

/* Decodes one message from `from` (received at recv_ns, used when a record carries no time) and emits its
 * flow records. Returns the number of records emitted; problems are counted (fs_nf_totals). */
size_t fs_nf_message(struct fs_nf_decoder *d, const struct fs_export_origin *from, uint64_t recv_ns, const uint8_t *msg,
                     size_t len, fs_nf_emit_fn emit, void *arg);

/* A transport session ended (an IPFIX TCP connection closed): the templates of `from` are no longer valid
 * (RFC 7011 section 8), and its held data sets are dropped (counted). */
void fs_nf_forget(struct fs_nf_decoder *d, const struct fs_export_origin *from);

/* How long a data set that came before its template waits for it, in the time of the messages received
 * (packet time for captures): FS_NF_HOLD_NS unless set. Exporters resend templates every few minutes
 * (nProbe after 41 s in Graylog's capture, Cisco's default after 30 minutes or 20 packets); the sets held
 * are bounded in number and bytes per exporter whatever the time. */
#define FS_NF_HOLD_NS (600ull * 1000000000ull)
void fs_nf_set_hold(struct fs_nf_decoder *d, uint64_t ns);

/* End of input: the data sets still waiting for their template are dropped (and counted). */
void fs_nf_finish(struct fs_nf_decoder *d);

/* Templates (and the sampling intervals learnt from options) across restarts: fs_nf_save() writes them to
 * path (a text file, replaced atomically); fs_nf_load() reads such a file (a missing one is no error) and says
 * how many templates it restored. fs_nf_generation() changes whenever there is something new to save. */
fs_result fs_nf_save(const struct fs_nf_decoder *d, const char *path, char *err, size_t errlen);
fs_result fs_nf_load(struct fs_nf_decoder *d, const char *path, size_t *ntemplates, char *err, size_t errlen);
uint64_t fs_nf_generation(const struct fs_nf_decoder *d);
/* The same from an open stream (`path` names it in messages). */
fs_result fs_nf_load_stream(struct fs_nf_decoder *d, FILE *f, const char *path, size_t *ntemplates, char *err,
                            size_t errlen);

/* Adds what `from` knows to `into`: its exporters' counters, sampling and templates (replacing those of the
 * same exporter and id), and the counters no exporter was named for. Data sets `from` still holds are not
 * moved (fs_nf_finish it first). Collectors with several decoders (one per receiving thread) add them up for
 * their summary, statistics and saved templates. FS_ERR_NOMEM if `into` ran out of room. */
fs_result fs_nf_absorb(struct fs_nf_decoder *into, const struct fs_nf_decoder *from);

/* Counters of all exporters together. */
const struct fs_nf_counters *fs_nf_totals(const struct fs_nf_decoder *d);
/* The exporters seen, *n of them, in the order they were first seen (valid until the next fs_nf_message). */
const struct fs_nf_exporter_stats *fs_nf_exporters(const struct fs_nf_decoder *d, size_t *n);

#endif

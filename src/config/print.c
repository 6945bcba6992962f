/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * --print-config: the effective configuration as a YAML document that
 * --config accepts. libyaml's emitter does the quoting, so a path with
 * quotes, '#', ': ' or leading spaces comes back unchanged; text values are
 * always quoted so that a socket named "null" or "4" stays a string.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config_internal.h"

struct printer {
	yaml_emitter_t em;
	struct cfg_err *e;
	const char *what; /* the value being written, for the message */
};

static int emit(struct printer *p, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(&p->em, ev)) {
		const char *why = p->em.problem ? p->em.problem : "write error";

		return cfg_errf(p->e, "--print-config: cannot write %s: %s", p->what, why);
	}
	return 0;
}

/* quoted: a string that must not read back as a number or null. */
static int scalar(struct printer *p, const char *text, bool quoted)
{
	yaml_event_t ev;

	p->what = text;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
					  !quoted, 1,
					  quoted ? YAML_ANY_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE))
		return cfg_errf(p->e, "--print-config: '%s' cannot be written as YAML "
				"(not UTF-8 text)", text);
	return emit(p, &ev);
}

static int key_str(struct printer *p, const char *key, const char *val)
{
	int r = scalar(p, key, false);

	return r ? r : scalar(p, val, true);
}

static int key_u64(struct printer *p, const char *key, uint64_t val)
{
	char num[24];
	int r = scalar(p, key, false);

	snprintf(num, sizeof(num), "%" PRIu64, val);
	return r ? r : scalar(p, num, false);
}

/* '+'-joined list, as --vm and the YAML keys take it. */
static int key_list(struct printer *p, const char *key, size_t n, const uint32_t *nums,
		    char *const *strs)
{
	size_t cap = 1, used = 0, i;
	char *buf;
	int r;

	for (i = 0; i < n; i++)
		cap += (strs ? strlen(strs[i]) : 10) + 1;
	buf = malloc(cap);
	if (!buf) {
		cfg_errf(p->e, "out of memory");
		return -ENOMEM;
	}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (strs)
			used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "+" : "",
						 strs[i]);
		else
			used += (size_t)snprintf(buf + used, cap - used, "%s%" PRIu32,
						 i ? "+" : "", nums[i]);
	}
	r = scalar(p, key, false);
	if (!r)
		r = scalar(p, buf, strs != NULL);
	free(buf);
	return r;
}

static int print_vm(struct printer *p, const struct vm_config *vm)
{
	yaml_event_t ev;
	int r;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	r = emit(p, &ev);
	if (!r)
		r = key_u64(p, "guest_cid", vm->guest_cid);
	if (!r && vm->socket)
		r = key_str(p, "socket", vm->socket);
	if (!r && vm->uds_path)
		r = key_str(p, "uds_path", vm->uds_path);
	if (!r && vm->has_forward_cid)
		r = key_u64(p, "forward_cid", vm->forward_cid);
	if (!r && vm->n_forward_listen)
		r = key_list(p, "forward_listen", vm->n_forward_listen, vm->forward_listen, NULL);
	if (!r && vm->n_forward_listen_seqpacket)
		r = key_list(p, "forward_listen_seqpacket", vm->n_forward_listen_seqpacket,
			     vm->forward_listen_seqpacket, NULL);
	if (!r)
		r = key_u64(p, "tx_buffer_size", vm->tx_buffer_size);
	if (!r)
		r = key_u64(p, "queue_size", vm->queue_size);
	if (!r)
		r = key_list(p, "groups", vm->n_groups, NULL, vm->groups);
	if (!r)
		r = key_u64(p, "poll_us", vm->poll_us);
	if (!r && vm->has_socket_mode) {
		/* Quoted: an octal mode must not read back as a decimal
		 * number, whatever YAML version the reader follows. */
		char mode[8];

		snprintf(mode, sizeof(mode), "%04o", (unsigned)vm->socket_mode);
		r = key_str(p, "socket_mode", mode);
	}
	if (!r && vm->socket_group)
		r = key_str(p, "socket_group", vm->socket_group);
	if (!r && vm->has_socket_fd)
		r = key_u64(p, "socket_fd", (uint64_t)vm->socket_fd);
	if (!r)
		r = key_u64(p, "max_connections", vm->max_connections);
	if (!r)
		r = key_u64(p, "guest_reserved_connections", vm->guest_reserved_connections);
	if (!r)
		r = key_u64(p, "max_host_handshakes", vm->max_host_handshakes);
	if (!r)
		r = key_u64(p, "max_sibling_connections", vm->max_sibling_connections);
	if (!r)
		r = key_u64(p, "tx_buffer_budget", vm->tx_buffer_budget);
	if (r)
		return r;
	yaml_mapping_end_event_initialize(&ev);
	return emit(p, &ev);
}

static int print_all(struct printer *p, const struct vdv_config *cfg)
{
	yaml_event_t ev;
	int r;

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	r = emit(p, &ev);
	if (r)
		return r;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	r = emit(p, &ev);
	if (r)
		return r;
	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	r = emit(p, &ev);
	if (!r)
		r = scalar(p, "vms", false);
	if (r)
		return r;
	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	r = emit(p, &ev);
	for (size_t i = 0; i < cfg->n_vms && !r; i++)
		r = print_vm(p, &cfg->vms[i]);
	if (r)
		return r;
	p->what = "the end of the document";
	yaml_sequence_end_event_initialize(&ev);
	r = emit(p, &ev);
	if (!r) {
		yaml_mapping_end_event_initialize(&ev);
		r = emit(p, &ev);
	}
	if (!r) {
		yaml_document_end_event_initialize(&ev, 1);
		r = emit(p, &ev);
	}
	if (!r) {
		yaml_stream_end_event_initialize(&ev);
		r = emit(p, &ev);
	}
	return r;
}

int config_print_yaml(const struct vdv_config *cfg, FILE *out, char *err, size_t errlen)
{
	struct cfg_err e = { err, errlen };
	struct printer p = { .e = &e, .what = "the configuration" };
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!yaml_emitter_initialize(&p.em)) {
		cfg_errf(&e, "out of memory");
		return -ENOMEM;
	}
	yaml_emitter_set_output_file(&p.em, out);
	yaml_emitter_set_unicode(&p.em, 1);
	yaml_emitter_set_width(&p.em, -1);
	yaml_emitter_set_indent(&p.em, 2);
	/* The file describes VMs only (like --log-level, --sandbox is a process
	 * option, given on the command line): the mode in force is shown as a
	 * comment, which --config skips, so the output still reads back. */
	if (fprintf(out, "# --sandbox %s\n", config_sandbox_name(cfg->opts.sandbox)) < 0)
		r = cfg_errf(&e, "--print-config: cannot write the configuration: %s",
			     strerror(errno));
	else
		r = print_all(&p, cfg);
	if (!r && (!yaml_emitter_flush(&p.em) || fflush(out) != 0))
		r = cfg_errf(&e, "--print-config: cannot write the configuration: %s",
			     strerror(errno));
	yaml_emitter_delete(&p.em);
	return r;
}

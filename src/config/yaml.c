/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The --config file: a YAML mapping with one key, 'vms', a list of mappings
 * whose keys are those of --vm. libyaml's document loader gives every node
 * a position, so each message carries "file:line:". Entries are named
 * vms[i] with i counted from 0, as in the file's own list.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config_internal.h"

/* A VM list is a few hundred bytes per VM; anything this big is the wrong
 * file, and reading it whole would only waste memory. */
#define CFG_MAX_FILE_SIZE (1u << 20)

static unsigned node_line(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Plain "", "~" and "null" are YAML's null; "key:" with nothing after it is
 * the usual way to end up here. Quoted strings are never null. */
static bool scalar_is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);
	size_t len = n->data.scalar.length;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) ||
			     !memcmp(v, "NULL", 4)));
}

static bool scalar_eq(const yaml_node_t *n, const char *s)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       memcmp(scalar(n), s, n->data.scalar.length) == 0;
}

static int syntax_error(const char *name, const yaml_parser_t *p, struct cfg_err *e)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		cfg_errf(e, "%s: out of memory while parsing YAML", name);
		return -ENOMEM;
	case YAML_READER_ERROR:
		return cfg_errf(e, "%s: not valid YAML text: %s at byte %zu", name, problem,
				p->problem_offset);
	default:
		if (p->context)
			return cfg_errf(e, "%s:%zu:%zu: YAML syntax error: %s %s at line %zu", name,
					p->problem_mark.line + 1, p->problem_mark.column + 1,
					problem, p->context, p->context_mark.line + 1);
		return cfg_errf(e, "%s:%zu:%zu: YAML syntax error: %s", name,
				p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
	}
}

static int parse_entry(yaml_document_t *doc, yaml_node_t *node, struct vm_spec *spec,
		       struct cfg_err *e)
{
	yaml_node_pair_t *pair;
	int r;

	if (node->type != YAML_MAPPING_NODE)
		return vm_errf(e, spec, -1, "expected a mapping of key: value pairs, got %s",
			       node_kind(node));
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(doc, pair->value);
		const char *kname;
		size_t klen;
		int k;

		if (!key || !val)
			return vm_errf(e, spec, -1, "malformed YAML mapping");
		if (key->type != YAML_SCALAR_NODE)
			return vm_errf_at(e, spec, node_line(key), "keys must be names, got %s",
					  node_kind(key));
		kname = scalar(key);
		klen = key->data.scalar.length;
		if (val->type != YAML_SCALAR_NODE) {
			k = vm_key_lookup(kname, klen);
			if (k < 0 || klen == 0)
				/* Let vm_spec_set() name the bad key. */
				return vm_spec_set(spec, kname, klen, "", 0, node_line(key), e);
			return vm_errf_at(e, spec, node_line(val),
					  "%s must be a single value, got %s%s", vm_key_name(k),
					  node_kind(val),
					  k == VM_KEY_FORWARD_LISTEN ||
						  k == VM_KEY_FORWARD_LISTEN_SEQPACKET ||
						  k == VM_KEY_GROUPS
						  ? " (join items with '+', e.g. a+b)"
						  : "");
		}
		r = vm_spec_set(spec, kname, klen, scalar(val),
				scalar_is_null(val) ? 0 : val->data.scalar.length, node_line(val), e);
		if (r)
			return r;
	}
	return 0;
}

static int parse_vms(const char *name, yaml_document_t *doc, yaml_node_t *vms,
		     struct vdv_config *out, struct cfg_err *e)
{
	yaml_node_item_t *items = vms->data.sequence.items.start;
	size_t n = (size_t)(vms->data.sequence.items.top - items);
	struct vm_spec *specs;
	size_t i;
	int r = 0;

	if (n == 0)
		return cfg_errf(e, "%s:%u: 'vms' is an empty list; give at least one VM", name,
				node_line(vms));
	if (n > CFG_MAX_VMS)
		return cfg_errf(e, "%s:%u: 'vms' has %zu entries; at most %u VMs are supported",
				name, node_line(vms), n, CFG_MAX_VMS);
	specs = calloc(n, sizeof(*specs));
	if (!specs) {
		cfg_errf(e, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n && !r; i++) {
		yaml_node_t *node = yaml_document_get_node(doc, items[i]);

		if (!node) {
			r = cfg_errf(e, "%s: malformed YAML list", name);
			break;
		}
		vm_spec_init(&specs[i], VM_ORIGIN_YAML, i, name, node_line(node));
		r = parse_entry(doc, node, &specs[i], e);
	}
	if (!r)
		r = cfg_build_all(specs, n, out, e);
	for (i = 0; i < n; i++)
		vm_spec_clear(&specs[i]);
	free(specs);
	return r;
}

static int parse_root(const char *name, yaml_document_t *doc, yaml_node_t *root,
		      struct vdv_config *out, struct cfg_err *e)
{
	yaml_node_t *vms = NULL, *vms_key = NULL;
	yaml_node_pair_t *pair;

	if (root->type != YAML_MAPPING_NODE)
		return cfg_errf(e, "%s:%u: expected a mapping with a 'vms' list at the top, got %s",
				name, node_line(root), node_kind(root));
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(doc, pair->value);

		if (!key || !val)
			return cfg_errf(e, "%s: malformed YAML mapping", name);
		if (key->type != YAML_SCALAR_NODE)
			return cfg_errf(e, "%s:%u: top-level keys must be names, got %s", name,
					node_line(key), node_kind(key));
		if (!scalar_eq(key, "vms"))
			return cfg_errf(e, "%s:%u: unknown top-level key '%s' (only 'vms' is allowed)",
					name, node_line(key), scalar(key));
		if (vms)
			return cfg_errf(e, "%s:%u: 'vms' given twice (lines %u and %u)", name,
					node_line(key), node_line(vms_key), node_line(key));
		vms = val;
		vms_key = key;
	}
	if (!vms)
		return cfg_errf(e, "%s:%u: no 'vms' list at the top", name, node_line(root));
	if (vms->type == YAML_SCALAR_NODE && scalar_is_null(vms))
		return cfg_errf(e, "%s:%u: 'vms' is empty; give a list of VMs", name,
				node_line(vms_key));
	if (vms->type != YAML_SEQUENCE_NODE)
		return cfg_errf(e, "%s:%u: 'vms' must be a list of VMs, got %s", name,
				node_line(vms), node_kind(vms));
	return parse_vms(name, doc, vms, out, e);
}

int cfg_parse_yaml(const char *name, const char *text, size_t len, struct vdv_config *out,
		   struct cfg_err *e)
{
	yaml_document_t doc, extra;
	yaml_parser_t parser;
	yaml_node_t *root, *extra_root;
	int r;

	memset(out, 0, sizeof(*out));
	config_opts_init(&out->opts);
	if (!yaml_parser_initialize(&parser)) {
		cfg_errf(e, "out of memory");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = syntax_error(name, &parser, e);
		yaml_parser_delete(&parser);
		return r;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		r = cfg_errf(e, "%s: no YAML document; expected a top-level 'vms:' list", name);
		goto out;
	}
	/* Load the rest of the stream too: a syntax error or a second
	 * document after the first must not be silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		r = syntax_error(name, &parser, e);
		goto out;
	}
	extra_root = yaml_document_get_root_node(&extra);
	r = extra_root ? cfg_errf(e, "%s:%u: a second YAML document; list all VMs under one 'vms'",
				  name, node_line(extra_root))
		       : 0;
	yaml_document_delete(&extra);
	if (!r)
		r = parse_root(name, &doc, root, out, e);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return r;
}

/* "--config -": standard input, named so in messages. */
#define STDIN_NAME "<stdin>"

/* Reads the whole file into a NUL-terminated buffer; path "-" is standard
 * input (read to its end, not closed). */
static int read_file(const char *path, char **text, size_t *len, struct cfg_err *e)
{
	bool is_stdin = strcmp(path, "-") == 0;
	size_t cap = 4096, used = 0;
	struct stat st;
	char *buf;
	int fd, r = 0;

	if (is_stdin)
		path = STDIN_NAME;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		cfg_errf(e, "--config: cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!is_stdin)
			close(fd);
		cfg_errf(e, "--config: cannot read '%s': %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	buf = malloc(cap);
	if (!buf) {
		if (!is_stdin)
			close(fd);
		cfg_errf(e, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				cfg_errf(e, "out of memory");
				r = -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			cfg_errf(e, "--config: cannot read '%s': %s", path, strerror(-r));
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > CFG_MAX_FILE_SIZE) {
			cfg_errf(e, "--config: '%s' is larger than %u bytes; not a configuration file?",
				 path, CFG_MAX_FILE_SIZE);
			r = -EFBIG;
			break;
		}
	}
	if (!is_stdin)
		close(fd);
	if (r) {
		free(buf);
		return r;
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
}

int cfg_parse_yaml_file(const char *path, struct vdv_config *out, struct cfg_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = read_file(path, &text, &len, e);
	if (r)
		return r;
	r = cfg_parse_yaml(strcmp(path, "-") ? path : STDIN_NAME, text, len, out, e);
	free(text);
	return r;
}

enum config_result config_parse_yaml_string(const char *text, size_t len, struct vdv_config *out,
					    char *err, size_t errlen)
{
	struct cfg_err e = { err, errlen };

	if (err && errlen)
		err[0] = '\0';
	return cfg_parse_yaml("<yaml>", text, len, out, &e) ? CONFIG_ERROR : CONFIG_OK;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"

/* Saved text goes to the terminal: only printable ASCII survives. */
static void copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < cap; src++)
		dst[i++] = (unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f ? *src : '?';
	if (cap)
		dst[i] = 0;
}

static bool id_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n < sizeof(((struct saved_fig *)0)->id) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f) {
		fprintf(stderr, "vdv-bench: --check-against %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CHECK_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		fprintf(stderr, "vdv-bench: --check-against %s: out of memory\n", path);
		return NULL;
	}
	*len = fread(buf, 1, CHECK_MAX_FILE + 1, f);
	if (ferror(f) || *len > CHECK_MAX_FILE) {
		fprintf(stderr, "vdv-bench: --check-against %s: %s\n", path,
			ferror(f) ? "read error" : "larger than 16 MiB: not a results.json");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* One side of a saved figure: {"median": number|null, ...}, or absent. */
static int side(const struct check *c, unsigned i, const struct jv *fig, const char *name,
		double *out)
{
	const struct jv *s = jv_get(fig, name), *m;

	*out = NAN;
	if (!s || s->type == JV_NULL)
		return 0;
	m = jv_get(s, "median");
	if (s->type != JV_OBJ || (m && m->type != JV_NUM && m->type != JV_NULL)) {
		fprintf(stderr,
			"vdv-bench: --check-against %s: figures[%u].%s: expected an object with "
			"a numeric or null \"median\"\n", c->path, i, name);
		return -1;
	}
	if (m && m->type == JV_NUM)
		*out = m->num;
	return 0;
}

static int load_figures(struct check *c, const struct jv *figs)
{
	static const char *const sides[T_N] = { "baseline", "a", "b" };
	unsigned n = 0, i = 0;

	if (!figs || figs->type != JV_ARR) {
		fprintf(stderr, "vdv-bench: --check-against %s: no \"figures\" array: not a "
				"vdv-bench results.json\n", c->path);
		return -1;
	}
	for (const struct jv *f = figs->child; f; f = f->next)
		n++;
	c->figs = calloc(n ? n : 1, sizeof(*c->figs));
	if (!c->figs)
		return -1;
	for (const struct jv *f = figs->child; f; f = f->next, i++) {
		const struct jv *id = jv_get(f, "id"), *unit = jv_get(f, "unit");
		struct saved_fig *sf = &c->figs[i];

		if (!id || id->type != JV_STR || !id_valid(id->str)) {
			fprintf(stderr,
				"vdv-bench: --check-against %s: figures[%u]: \"id\" is not a figure "
				"id (1..31 of [A-Za-z0-9_.-])\n", c->path, i);
			return -1;
		}
		for (unsigned k = 0; k < i; k++)
			if (!strcmp(c->figs[k].id, id->str)) {
				fprintf(stderr, "vdv-bench: --check-against %s: figures[%u]: id '%s' "
						"appears twice\n", c->path, i, id->str);
				return -1;
			}
		snprintf(sf->id, sizeof(sf->id), "%s", id->str);
		if (unit && unit->type == JV_STR)
			copy_printable(sf->unit, sizeof(sf->unit), unit->str);
		for (int w = 0; w < T_N; w++)
			if (side(c, i, f, sides[w], &sf->med[w]))
				return -1;
	}
	c->n = n;
	return 0;
}

static void load_context(struct check *c, const struct jv *root)
{
	const struct jv *d = jv_get(root, "date"), *cfg = jv_get(root, "config");
	const struct jv *commit = jv_get(jv_get(jv_get(root, "daemon_info"), "a"), "commit");
	const struct jv *args = jv_get(root, "daemon_args");

	if (d && d->type == JV_STR)
		copy_printable(c->date, sizeof(c->date), d->str);
	if (commit && commit->type == JV_STR)
		copy_printable(c->commit, sizeof(c->commit), commit->str);
	for (const struct jv *k = cfg && cfg->type == JV_OBJ ? cfg->child : NULL;
	     k && c->ncfg < CHECK_MAX_CFG; k = k->next) {
		if (k->type != JV_NUM && k->type != JV_BOOL)
			continue;
		copy_printable(c->cfg[c->ncfg].key, sizeof(c->cfg[c->ncfg].key), k->key);
		c->cfg[c->ncfg++].v = k->type == JV_NUM ? k->num : k->b;
	}
	if (args && args->type == JV_ARR) {
		size_t len = 0;

		c->has_daemon_args = true;
		for (const struct jv *a = args->child; a; a = a->next) {
			if (a->type != JV_STR || len + 2 >= sizeof(c->daemon_args))
				continue;
			if (len)
				c->daemon_args[len++] = ' ';
			copy_printable(c->daemon_args + len, sizeof(c->daemon_args) - len, a->str);
			len = strlen(c->daemon_args);
		}
	}
}

int check_load(struct check *c, const char *path)
{
	char err[160];
	size_t len;
	char *text;
	struct jv *root;
	int r;

	memset(c, 0, sizeof(*c));
	c->path = path;
	text = read_file(path, &len);
	if (!text)
		return -1;
	root = jv_parse(text, len, err, sizeof(err));
	free(text);
	if (!root) {
		fprintf(stderr, "vdv-bench: --check-against %s: not valid JSON: %s\n", path, err);
		return -1;
	}
	if (root->type != JV_OBJ) {
		fprintf(stderr, "vdv-bench: --check-against %s: not a JSON object: not a "
				"vdv-bench results.json\n", path);
		jv_free(root);
		return -1;
	}
	r = load_figures(c, jv_get(root, "figures"));
	if (!r)
		load_context(c, root);
	jv_free(root);
	if (r)
		check_free(c);
	return r;
}

void check_free(struct check *c)
{
	free(c->figs);
	c->figs = NULL;
	c->n = 0;
}

static const struct saved_fig *saved_find(const struct check *c, const char *id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->figs[i].id, id))
			return &c->figs[i];
	return NULL;
}

/* Settings that change what a figure means: a difference is worth a note. */
static void config_notes(const struct check *c, const struct bench *b, FILE *out)
{
	const struct bench_cfg *g = &b->cfg;
	const struct {
		const char *key;
		double v;
	} ours[] = {
		{ "rounds", g->rounds },	   { "duration_s", g->duration_s },
		{ "queue_size", g->queue_size },   { "rx_buf_size", (double)g->rx_buf_size },
		{ "guest_buf_alloc", g->guest_buf_alloc }, { "read_size", (double)g->read_size },
		{ "rr_msg", (double)g->rr_msg },   { "mc_conns", g->mc_conns },
		{ "mc_write", (double)g->mc_write }, { "idle_conns", g->idle_conns },
		{ "verify", g->verify },	   { "guest_syscalls", g->guest_syscalls },
		{ "smoke", g->smoke },
	};
	char args[512] = "";
	size_t len = 0;

	for (unsigned i = 0; i < c->ncfg; i++)
		for (unsigned k = 0; k < sizeof(ours) / sizeof(ours[0]); k++)
			if (!strcmp(c->cfg[i].key, ours[k].key) && c->cfg[i].v != ours[k].v)
				fprintf(out, "  note: the saved run had %s %g, this one %g\n",
					ours[k].key, c->cfg[i].v, ours[k].v);
	for (unsigned i = 0; i < g->n_daemon_args && len + 2 < sizeof(args); i++) {
		if (len)
			args[len++] = ' ';
		copy_printable(args + len, sizeof(args) - len, g->daemon_args[i]);
		len = strlen(args);
	}
	if (c->has_daemon_args && strcmp(args, c->daemon_args))
		fprintf(out, "  note: the saved run had daemon args '%s', this one '%s'\n",
			c->daemon_args, args);
}

/* Appends id to a space-separated list, "..." once it is full. */
static void list_add(char *list, size_t cap, const char *id)
{
	size_t len = strlen(list);

	if (len + strlen(id) + 6 < cap)
		snprintf(list + len, cap - len, "%s%s", len ? ", " : "", id);
	else if (len + 5 < cap && strcmp(list + len - 3, "..."))
		snprintf(list + len, cap - len, ", ...");
}

unsigned check_compare(const struct check *c, const struct bench *b, FILE *out)
{
	int last = b->cfg.daemon[1] ? T_B : T_A;
	char no_saved[2048] = "", no_now[2048] = "", no_value[2048] = "", item[64];
	unsigned worse = 0, same = 0;

	fprintf(out, "\ncheck against %s: figures more than %.0f %% worse than its medians\n"
		     "  saved %s, daemon A commit %s\n",
		c->path, CHECK_TOLERANCE * 100, c->date[0] ? c->date : "at an unknown date",
		c->commit[0] ? c->commit : "unknown");
	config_notes(c, b, out);
	for (unsigned i = 0; i < b->res.n; i++) {
		const struct fig *f = &b->res.figs[i];
		const struct saved_fig *sf;

		if (!fig_touched(f))
			continue;
		sf = saved_find(c, f->id);
		if (!sf) {
			list_add(no_saved, sizeof(no_saved), f->id);
			continue;
		}
		for (int w = T_A; w <= last; w++) {
			double now = fig_median(f, w), then = sf->med[w], tol;
			bool bad;

			snprintf(item, sizeof(item), "%s (%s)", f->id, bench_who(w));
			if (isnan(now) || isnan(then)) {
				list_add(no_value, sizeof(no_value), item);
				continue;
			}
			if (sf->unit[0] && strcmp(sf->unit, f->unit)) {
				fprintf(out, "  not comparable: %s: unit %s, saved %s\n", item,
					f->unit, sf->unit);
				continue;
			}
			/* Relative to the saved value's size, so that a saved 0 (or a
			 * negative memory delta) still has a direction. */
			tol = CHECK_TOLERANCE * fabs(then);
			bad = f->higher_better ? now < then - tol : now > then + tol;
			if (!bad) {
				same++;
				continue;
			}
			worse++;
			fprintf(out, "  WORSE %-16s %s: %.4g %s, saved %.4g", f->id, bench_who(w),
				now, f->unit, then);
			if (then != 0)
				fprintf(out, " (%+.1f %%)", 100 * (now - then) / fabs(then));
			/* The baseline ran in the same rounds: if it moved as much,
			 * the machine changed rather than the daemon. */
			if (f->has_baseline && !isnan(sf->med[T_BASE]) && sf->med[T_BASE] != 0 &&
			    !isnan(fig_median(f, T_BASE)))
				fprintf(out, "; AF_UNIX baseline %+.1f %%",
					100 * (fig_median(f, T_BASE) - sf->med[T_BASE]) /
						fabs(sf->med[T_BASE]));
			fputc('\n', out);
		}
	}
	for (unsigned i = 0; i < c->n; i++) {
		const struct fig *f = res_find((struct results *)&b->res, c->figs[i].id);

		if (!f || !fig_touched(f))
			list_add(no_now, sizeof(no_now), c->figs[i].id);
	}
	if (no_now[0])
		fprintf(out, "  missing, not in this run: %s\n", no_now);
	if (no_saved[0])
		fprintf(out, "  missing, not in the saved results: %s\n", no_saved);
	if (no_value[0])
		fprintf(out, "  missing, no value on one side (n/a, failed, or no daemon B): %s\n",
			no_value);
	fprintf(out, "check: %u figure(s) more than %.0f %% worse, %u within %.0f %% or better\n",
		worse, CHECK_TOLERANCE * 100, same, CHECK_TOLERANCE * 100);
	return worse;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A small JSON reader for a saved results.json (--check-against): the
 * whole document as a tree. The file is untrusted: the grammar is checked
 * strictly (RFC 8259), nesting is bounded, and an error names its line and
 * column.
 */
#ifndef VDV_BENCH_JSONR_H
#define VDV_BENCH_JSONR_H

#include <stdbool.h>
#include <stddef.h>

#define JV_MAX_DEPTH 32

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type type;
	bool b;
	double num;
	char *str;          /* JV_STR, NUL-terminated UTF-8 (a NUL inside is refused) */
	char *key;          /* a member of an object */
	struct jv *child;   /* first element or member */
	struct jv *next;
};

/* Parses text[0..len). NULL with a message in err on any error. */
struct jv *jv_parse(const char *text, size_t len, char *err, size_t errcap);
void jv_free(struct jv *v);
/* The member key of an object, NULL if v is not an object or has none. */
const struct jv *jv_get(const struct jv *v, const char *key);

#endif

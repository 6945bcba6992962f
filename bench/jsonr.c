/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "jsonr.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s, *end, *p;
	char *err;
	size_t errcap;
	bool failed;
};

static void fail(struct parser *ps, const char *what)
{
	unsigned line = 1, col = 1;

	if (ps->failed)
		return;
	ps->failed = true;
	for (const char *q = ps->s; q < ps->p; q++, col++)
		if (*q == '\n') {
			line++;
			col = 0;
		}
	if (ps->p < ps->end)
		snprintf(ps->err, ps->errcap, "line %u column %u: %s (at '%c')", line, col, what,
			 (unsigned char)*ps->p >= 0x20 && (unsigned char)*ps->p < 0x7f ? *ps->p
										   : '?');
	else
		snprintf(ps->err, ps->errcap, "line %u column %u: %s (at end of file)", line, col,
			 what);
}

static void ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool lit(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int hex4(struct parser *ps, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++, ps->p++) {
		char c = ps->p < ps->end ? *ps->p : 0;

		*out <<= 4;
		if (c >= '0' && c <= '9')
			*out |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*out |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*out |= (unsigned)(c - 'A' + 10);
		else {
			fail(ps, "bad \\u escape");
			return -1;
		}
	}
	return 0;
}

static size_t utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote. The decoded string is never longer than its
 * source text, which bounds the buffer. */
static char *string(struct parser *ps)
{
	const char *q;
	char *out, *o;

	ps->p++;
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < ps->end)
			q++;
	out = malloc((size_t)(q - ps->p) + 1);
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	o = out;
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			break;
		}
		c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			*o = 0;
			return out;
		}
		if (c < 0x20) {
			fail(ps, "control character in a string");
			break;
		}
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		c = ps->p < ps->end ? (unsigned char)*ps->p : 0;
		ps->p++;
		switch (c) {
		case '"': case '\\': case '/':
			*o++ = (char)c;
			continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': {
			unsigned cp, lo;

			if (hex4(ps, &cp))
				break;
			if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 &&
			    ps->p[0] == '\\' && ps->p[1] == 'u') {
				ps->p += 2;
				if (hex4(ps, &lo))
					break;
				if (lo < 0xdc00 || lo >= 0xe000) {
					fail(ps, "bad surrogate pair");
					break;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xd800 && cp < 0xe000) {
				fail(ps, "lone surrogate");
				break;
			}
			if (!cp) {
				fail(ps, "\\u0000 in a string");
				break;
			}
			/* \uXXXX is 6 source bytes, at most 4 decoded: fits. */
			o += utf8(cp, o);
			continue;
		}
		default:
			ps->p--;
			fail(ps, "bad escape");
			break;
		}
		break;
	}
	free(out);
	return NULL;
}

static bool digits(struct parser *ps)
{
	const char *q = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > q;
}

static bool number(struct parser *ps, double *out)
{
	const char *start = ps->p;
	char buf[64];

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (!digits(ps))
		goto bad;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!digits(ps))
			goto bad;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!digits(ps))
			goto bad;
	}
	if ((size_t)(ps->p - start) >= sizeof(buf)) {
		ps->p = start;
		fail(ps, "number too long");
		return false;
	}
	/* strtod needs a terminated copy: the text is not. */
	memcpy(buf, start, (size_t)(ps->p - start));
	buf[ps->p - start] = 0;
	*out = strtod(buf, NULL);
	if (isinf(*out)) {
		ps->p = start;
		fail(ps, "number out of range");
		return false;
	}
	return true;
bad:
	fail(ps, "bad number");
	return false;
}

static struct jv *value(struct parser *ps, unsigned depth);

/* Elements or members up to the closing bracket, at the opening one. */
static bool children(struct parser *ps, struct jv *v, unsigned depth)
{
	char close = v->type == JV_ARR ? ']' : '}';
	struct jv **tail = &v->child;

	ps->p++;
	ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		struct jv *c;

		if (v->type == JV_OBJ) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a member name");
				return false;
			}
			key = string(ps);
			if (!key)
				return false;
			ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				return false;
			}
			ps->p++;
		}
		c = value(ps, depth + 1);
		if (!c) {
			free(key);
			return false;
		}
		c->key = key;
		*tail = c;
		tail = &c->next;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			ws(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return true;
		}
		fail(ps, v->type == JV_ARR ? "expected ',' or ']'" : "expected ',' or '}'");
		return false;
	}
}

static struct jv *value(struct parser *ps, unsigned depth)
{
	struct jv *v;

	ws(ps);
	if (depth > JV_MAX_DEPTH) {
		fail(ps, "nested too deeply");
		return NULL;
	}
	if (ps->p >= ps->end) {
		fail(ps, "expected a value");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		fail(ps, "out of memory");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		v->type = *ps->p == '{' ? JV_OBJ : JV_ARR;
		if (!children(ps, v, depth))
			goto bad;
		return v;
	case '"':
		v->type = JV_STR;
		v->str = string(ps);
		if (!v->str)
			goto bad;
		return v;
	case 't':
	case 'f':
		v->type = JV_BOOL;
		v->b = *ps->p == 't';
		if (!lit(ps, v->b ? "true" : "false"))
			break;
		return v;
	case 'n':
		v->type = JV_NULL;
		if (!lit(ps, "null"))
			break;
		return v;
	default:
		v->type = JV_NUM;
		if (!number(ps, &v->num))
			goto bad;
		return v;
	}
	fail(ps, "expected a value");
bad:
	jv_free(v);
	return NULL;
}

struct jv *jv_parse(const char *text, size_t len, char *err, size_t errcap)
{
	struct parser ps = { .s = text, .end = text + len, .p = text, .err = err,
			     .errcap = errcap };
	struct jv *v = value(&ps, 0);

	if (v) {
		ws(&ps);
		if (ps.p != ps.end) {
			fail(&ps, "text after the document");
			jv_free(v);
			v = NULL;
		}
	}
	return v;
}

void jv_free(struct jv *v)
{
	while (v) {
		struct jv *next = v->next;

		jv_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->type != JV_OBJ)
		return NULL;
	for (const struct jv *c = v->child; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

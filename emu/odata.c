/*
 * OData $filter (contract, section 8, and the leniencies of section 9):
 * eq ne gt ge lt le, and or not, parentheses, startswith(field,'text'),
 * contains(field,'text'), and FIELD/any(x: ...) on collection fields,
 * on the fields the documents list for indicators (3.1) and machines
 * (5.1). Literals: 'strings' ('' escapes a quote), numbers, true, false,
 * null, and bare ISO-8601 times. Anything else is an error. Recursive
 * descent with a depth cap; the input is bounded by the URL.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define FILTER_MAX_DEPTH 64
#define FILTER_MAX_BYTES 8192

enum op {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GE,
	OP_LT,
	OP_LE,
	OP_AND,
	OP_OR,
	OP_NOT,
	OP_STARTSWITH,
	OP_CONTAINS,
	OP_ANY
};
enum lit {
	L_STR,
	L_NUM,
	L_BOOL,
	L_NULL,
	L_TIME
};

struct filter {
	enum op op;
	struct filter *a, *b; /* and/or/not; any: a is the lambda's body */
	char *field;          /* comparisons */
	enum lit kind;
	char *str;
	double num;
	bool bval;
	long long ms;
};

/* Filterable properties per entity; collections take any() only, times
 * compare as times. */
static const char *const ind_fields[] = {
	"application",    "createdByDisplayName",
	"expirationTime", "generateAlert",
	"title",          "rbacGroupNames",
	"rbacGroupIds",   "indicatorValue",
	"indicatorType",  "creationTimeDateTimeUtc",
	"createdBy",      "action",
	"severity",       NULL,
};
static const char *const machine_fields[] = {
	"computerDnsName", "id",         "version",       "deviceValue",      "aadDeviceId",
	"machineTags",     "lastSeen",   "exposureLevel", "onboardingStatus", "lastIpAddress",
	"healthStatus",    "osPlatform", "riskScore",     "rbacGroupId",      NULL,
};
static const char *const collections[] = {"rbacGroupNames", "rbacGroupIds", "machineTags", NULL};
static const char *const times[] = {"expirationTime", "creationTimeDateTimeUtc", "lastSeen", NULL};

/* The name a lambda's variable stands for inside any(). */
#define LAMBDA_IT "$it"

static bool
listed(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

struct parser {
	const char *p;
	char *why;
	size_t whysz;
	bool failed;
	int depth;
	const char *const *fields;
	const char *var; /* inside any(var: ...): its name */
	size_t varlen;
};

static void
fail(struct parser *ps, const char *msg)
{
	if (!ps->failed)
		snprintf(ps->why, ps->whysz, "%s near \"%.20s\"", msg, ps->p);
	ps->failed = true;
}

static void
skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

/* A word: letters, digits, '_', '/', '.', ':', '-', '+' (times). */
static size_t
word(struct parser *ps)
{
	size_t n = 0;
	while (ps->p[n] != '\0' && (isalnum((unsigned char)ps->p[n]) || strchr("_/.:-+", ps->p[n])))
		n++;
	return n;
}

static bool
keyword(struct parser *ps, const char *kw)
{
	size_t n = strlen(kw);
	skip_ws(ps);
	if (strncmp(ps->p, kw, n) == 0 && !isalnum((unsigned char)ps->p[n]) && ps->p[n] != '_') {
		ps->p += n;
		return true;
	}
	return false;
}

/* Consumes ch if it is next; never steps past the end. */
static bool
expect(struct parser *ps, char ch)
{
	skip_ws(ps);
	if (*ps->p != ch)
		return false;
	ps->p++;
	return true;
}

void
filter_free(struct filter *f)
{
	if (f == NULL)
		return;
	filter_free(f->a);
	filter_free(f->b);
	free(f->field);
	free(f->str);
	free(f);
}

static char *
field(struct parser *ps)
{
	skip_ws(ps);
	size_t n = 0;
	while (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_')
		n++;
	if (ps->var && n == ps->varlen && strncmp(ps->p, ps->var, n) == 0) {
		ps->p += n;
		return xstrdup(LAMBDA_IT);
	}
	for (size_t i = 0; ps->fields[i]; i++)
		if (strlen(ps->fields[i]) == n && strncmp(ps->p, ps->fields[i], n) == 0) {
			ps->p += n;
			return xstrndup(ps->fields[i], n);
		}
	fail(ps, n ? "unknown or unfilterable property" : "a property name expected");
	return NULL;
}

static bool
literal(struct parser *ps, struct filter *f)
{
	skip_ws(ps);
	if (*ps->p == '\'') {
		struct strbuf sb = {0};
		sb_add(&sb, "", 0);
		for (ps->p++;; ps->p++) {
			if (*ps->p == '\0') {
				sb_free(&sb);
				fail(ps, "unterminated string");
				return false;
			}
			if (*ps->p == '\'') {
				if (ps->p[1] != '\'')
					break;
				ps->p++;
			}
			sb_addc(&sb, *ps->p);
		}
		ps->p++;
		f->kind = L_STR;
		f->str = sb.buf;
		return true;
	}
	size_t n = word(ps);
	char tok[64];
	if (n == 0 || n >= sizeof(tok)) {
		fail(ps, "a literal expected");
		return false;
	}
	memcpy(tok, ps->p, n);
	tok[n] = '\0';
	ps->p += n;
	if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
		f->kind = L_BOOL;
		f->bval = tok[0] == 't';
	} else if (strcmp(tok, "null") == 0) {
		f->kind = L_NULL;
	} else if (emu_time_parse(tok, &f->ms)) {
		f->kind = L_TIME;
	} else {
		char *end;
		f->num = strtod(tok, &end);
		if (*end != '\0') {
			fail(ps, "not a literal");
			return false;
		}
		f->kind = L_NUM;
	}
	return true;
}

static struct filter *parse_or(struct parser *ps);

/* FIELD/any(VAR: BODY) on a collection field; ps->p is at the '/'. The
 * body sees VAR as each element in turn. */
static bool
parse_any(struct parser *ps, struct filter *f)
{
	ps->p++;
	if (!listed(collections, f->field) || strncmp(ps->p, "any", 3) != 0) {
		fail(ps, "only FIELD/any(...) on a collection property");
		return false;
	}
	ps->p += 3;
	if (!expect(ps, '(')) {
		fail(ps, "'(' expected after any");
		return false;
	}
	skip_ws(ps);
	size_t n = 0;
	while (isalpha((unsigned char)ps->p[n]))
		n++;
	if (n == 0 || ps->var) {
		fail(ps, n ? "any() does not nest" : "a lambda variable expected");
		return false;
	}
	ps->var = ps->p;
	ps->varlen = n;
	ps->p += n;
	struct filter *body = NULL;
	if (expect(ps, ':'))
		body = parse_or(ps);
	else
		fail(ps, "':' expected after the lambda variable");
	ps->var = NULL;
	if (body == NULL)
		return false;
	if (!expect(ps, ')')) {
		filter_free(body);
		fail(ps, "')' expected");
		return false;
	}
	f->op = OP_ANY;
	f->a = body;
	return true;
}

static struct filter *
parse_primary(struct parser *ps)
{
	struct filter *f;
	if (++ps->depth > FILTER_MAX_DEPTH) {
		fail(ps, "nested too deeply");
		return NULL;
	}
	skip_ws(ps);
	if (*ps->p == '(') {
		ps->p++;
		f = parse_or(ps);
		skip_ws(ps);
		if (f && *ps->p != ')') {
			fail(ps, "')' expected");
			filter_free(f);
			f = NULL;
		} else if (f) {
			ps->p++;
		}
		ps->depth--;
		return f;
	}
	if (keyword(ps, "not")) {
		struct filter *a = parse_primary(ps);
		if (a == NULL)
			return NULL;
		f = xcalloc(1, sizeof(*f));
		f->op = OP_NOT;
		f->a = a;
		ps->depth--;
		return f;
	}
	f = xcalloc(1, sizeof(*f));
	bool starts = keyword(ps, "startswith");
	if (starts || keyword(ps, "contains")) {
		skip_ws(ps);
		if (!expect(ps, '(')) {
			fail(ps, "'(' expected after the function name");
			goto bad;
		}
		f->op = starts ? OP_STARTSWITH : OP_CONTAINS;
		if ((f->field = field(ps)) == NULL)
			goto bad;
		skip_ws(ps);
		if (!expect(ps, ',')) {
			fail(ps, "',' expected");
			goto bad;
		}
		if (!literal(ps, f) || f->kind != L_STR) {
			fail(ps, "startswith and contains take a string");
			goto bad;
		}
		skip_ws(ps);
		if (!expect(ps, ')')) {
			fail(ps, "')' expected");
			goto bad;
		}
		ps->depth--;
		return f;
	}
	if ((f->field = field(ps)) == NULL)
		goto bad;
	if (*ps->p == '/') {
		if (!parse_any(ps, f))
			goto bad;
		ps->depth--;
		return f;
	}
	static const struct {
		const char *kw;
		enum op op;
	} ops[] = {
		{"eq", OP_EQ}, {"ne", OP_NE}, {"gt", OP_GT}, {"ge", OP_GE}, {"lt", OP_LT}, {"le", OP_LE},
	};
	size_t k;
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (keyword(ps, ops[k].kw))
			break;
	if (k == sizeof(ops) / sizeof(ops[0])) {
		fail(ps, "a comparison operator expected (eq, ne, gt, ge, lt, le)");
		goto bad;
	}
	f->op = ops[k].op;
	if (!literal(ps, f))
		goto bad;
	if (listed(collections, f->field)) {
		fail(ps, "collection properties take any(), not a comparison");
		goto bad;
	}
	ps->depth--;
	return f;
bad:
	filter_free(f);
	return NULL;
}

static struct filter *parse_and(struct parser *ps);

/* left (KW right)*, left-associative, for "and" and "or". */
static struct filter *
parse_chain(struct parser *ps, const char *kw, enum op op, struct filter *(*sub)(struct parser *))
{
	struct filter *l = sub(ps);
	while (l && keyword(ps, kw)) {
		struct filter *r = sub(ps), *n;
		if (r == NULL) {
			filter_free(l);
			return NULL;
		}
		n = xcalloc(1, sizeof(*n));
		n->op = op;
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct filter *
parse_and(struct parser *ps)
{
	return parse_chain(ps, "and", OP_AND, parse_primary);
}

static struct filter *
parse_or(struct parser *ps)
{
	return parse_chain(ps, "or", OP_OR, parse_and);
}

struct filter *
filter_parse(const char *s, enum filter_entity ent, char *why, size_t whysz)
{
	struct parser ps = {
		.p = s, .why = why, .whysz = whysz, .fields = ent == FILTER_MACHINES ? machine_fields : ind_fields};
	if (strlen(s) > FILTER_MAX_BYTES) {
		snprintf(why, whysz, "longer than %d bytes", FILTER_MAX_BYTES);
		return NULL;
	}
	struct filter *f = parse_or(&ps);
	skip_ws(&ps);
	if (f && *ps.p != '\0') {
		fail(&ps, "unexpected text");
		filter_free(f);
		return NULL;
	}
	if (f == NULL && !ps.failed)
		snprintf(why, whysz, "empty filter");
	return f;
}

static int
cmp_num(double a, double b)
{
	return a < b ? -1 : a > b;
}

static bool
verdict(enum op op, int c)
{
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	default: return false;
	}
}

const char *
filter_required_eq(const struct filter *f, const char *field)
{
	if (f == NULL)
		return NULL;
	if (f->op == OP_AND) {
		const char *a = filter_required_eq(f->a, field);
		return a ? a : filter_required_eq(f->b, field);
	}
	return f->op == OP_EQ && f->kind == L_STR && f->field && strcmp(f->field, field) == 0 ? f->str : NULL;
}

bool
filter_match(const struct filter *f, json_t *obj)
{
	switch (f->op) {
	case OP_AND: return filter_match(f->a, obj) && filter_match(f->b, obj);
	case OP_OR: return filter_match(f->a, obj) || filter_match(f->b, obj);
	case OP_NOT: return !filter_match(f->a, obj);
	case OP_STARTSWITH: {
		const char *v = json_string_value(json_object_get(obj, f->field));
		return v && strncmp(v, f->str, strlen(f->str)) == 0;
	}
	case OP_CONTAINS: {
		const char *v = json_string_value(json_object_get(obj, f->field));
		return v && strstr(v, f->str) != NULL;
	}
	case OP_ANY: {
		json_t *coll = json_object_get(obj, f->field), *el;
		size_t i;
		bool hit = false;
		if (!json_is_array(coll))
			return false;
		json_t *it = json_object();
		json_array_foreach(coll, i, el) {
			json_object_set(it, LAMBDA_IT, el);
			if ((hit = filter_match(f->a, it)))
				break;
		}
		json_decref(it);
		return hit;
	}
	default: break;
	}
	json_t *v = json_object_get(obj, f->field);
	if (v == NULL || json_is_null(v))
		return f->kind == L_NULL ? f->op == OP_EQ : f->op == OP_NE;
	if (f->kind == L_NULL)
		return f->op == OP_NE;
	long long ms;
	if (f->kind == L_TIME || (f->kind == L_STR && listed(times, f->field))) {
		long long want = f->ms;
		if (f->kind == L_STR && !emu_time_parse(f->str, &want))
			return false;
		if (!json_is_string(v) || !emu_time_parse(json_string_value(v), &ms))
			return false;
		return verdict(f->op, ms < want ? -1 : ms > want);
	}
	if (f->kind == L_BOOL)
		return json_is_boolean(v) && verdict(f->op, cmp_num(json_is_true(v), f->bval));
	if (f->kind == L_NUM) {
		/* Ids are numbers documented as strings (rbacGroupId): either compares. */
		double x = json_is_number(v) ? json_number_value(v)
			: json_is_string(v)  ? strtod(json_string_value(v), NULL)
					     : 0;
		return (json_is_number(v) || json_is_string(v)) && verdict(f->op, cmp_num(x, f->num));
	}
	if (!json_is_string(v))
		return false;
	int c = strcmp(json_string_value(v), f->str);
	return verdict(f->op, c < 0 ? -1 : c > 0);
}

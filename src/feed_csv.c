/*
 * CSV (RFC 4180): quoted fields with "" escapes and line breaks, "#"
 * comment lines anywhere, a header row (detected or declared), the
 * indicator columns chosen by name or number or detected, a delimiter
 * (sniffed among , ; TAB |), several indicators in one field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "iocsync_limits.h"
#include "util.h"

struct field {
	size_t off, len; /* in the record's scratch buffer */
};

struct csv {
	const char *p, *end;
	unsigned long line; /* current line number */
	char delim;
	struct strbuf scratch;
	struct field *f;
	size_t nf, fcap;
};

enum rec {
	REC_END,
	REC_OK,
	REC_COMMENT,
	REC_BAD
};

/* Reads one record starting at c->p; *start gets its first line. */
static enum rec
next_record(struct csv *c, unsigned long *start, const char **why)
{
	const char *p = c->p, *e = c->end;
	if (p >= e)
		return REC_END;
	c->line++;
	*start = c->line;
	c->scratch.len = 0;
	c->nf = 0;
	if (*p == '#') { /* a comment line */
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		c->p = nl ? nl + 1 : e;
		return REC_COMMENT;
	}
	for (;;) {
		size_t off = c->scratch.len;
		bool quoted = false;
		if (p < e && *p == '"') {
			quoted = true;
			p++;
			for (;;) {
				if (p >= e) {
					c->p = e;
					*why = "unterminated quoted field";
					return REC_BAD;
				}
				if (*p == '"') {
					if (p + 1 < e && p[1] == '"') {
						sb_addc(&c->scratch, '"');
						p += 2;
						continue;
					}
					p++;
					break;
				}
				if (*p == '\n')
					c->line++;
				sb_addc(&c->scratch, *p++);
			}
		}
		/* Unquoted part (or junk after a closing quote, kept as is). */
		const char *s = p;
		while (p < e && *p != c->delim && *p != '\n')
			p++;
		size_t n = (size_t)(p - s);
		if (n > 0 && s[n - 1] == '\r' && (p >= e || *p == '\n'))
			n--;
		if (n > 0)
			sb_add(&c->scratch, s, n);
		else if (c->scratch.buf == NULL)
			sb_add(&c->scratch, "", 0);
		(void)quoted;
		if (c->nf >= LIMIT_CSV_FIELDS) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));
			c->p = nl ? nl + 1 : e;
			*why = "more fields than LIMIT_CSV_FIELDS";
			return REC_BAD;
		}
		xgrow((void **)&c->f, &c->fcap, c->nf + 1, sizeof(*c->f));
		c->f[c->nf].off = off;
		c->f[c->nf].len = c->scratch.len - off;
		c->nf++;
		if (p >= e || *p == '\n') {
			c->p = p < e ? p + 1 : e;
			return REC_OK;
		}
		p++; /* the delimiter */
	}
}

static const char *
fval(const struct csv *c, size_t i, size_t *n)
{
	*n = c->f[i].len;
	return c->scratch.buf + c->f[i].off;
}

static char
sniff_delim(const char *p, const char *e)
{
	static const char cands[] = {',', ';', '\t', '|'};
	size_t best = 0;
	char d = ',';
	/* First line that is not a comment. */
	while (p < e && *p == '#') {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		p = nl ? nl + 1 : e;
	}
	const char *nl = memchr(p, '\n', (size_t)(e - p));
	const char *le = nl ? nl : e;
	for (size_t k = 0; k < sizeof(cands); k++) {
		size_t cnt = 0;
		bool q = false;
		for (const char *s = p; s < le; s++) {
			if (*s == '"')
				q = !q;
			else if (!q && *s == cands[k])
				cnt++;
		}
		if (cnt > best) {
			best = cnt;
			d = cands[k];
		}
	}
	return d;
}

/* A header name that says "indicator here", after folding case and
 * dropping spaces, "_" and "-": an indicator's name (url, uri, link,
 * domain, hostname, ip, ip_address, sha256, md5, sha1, hash...) or one
 * that ends in one (Download URL, dst_ip, file_sha256); never a column
 * that points at a page about the indicator (PhishTank's
 * phish_detail_url, a reference, a report, a referrer, a source), which
 * only csv_columns can name. */
static bool
ioc_header(const char *s, size_t n)
{
	static const char *const exact[] = {"value",      "ioc",  "iocvalue", "indicator", "indicatorvalue",
					    "observable", "host", "hostname", "uri",       "link"};
	static const char *const suffix[] = {"url",  "ip",     "ipaddress", "domain", "domainname", "md5",
					     "sha1", "sha256", "hash",      "ipv4",   "ipv6",       "fqdn"};
	static const char *const reference[] = {"detail",    "reference", "referrer", "referer", "report",
						"permalink", "source",    "info",     "more",    "page"};
	char k[64];
	size_t m = 0;
	for (size_t i = 0; i < n && m < sizeof(k) - 1; i++)
		if (s[i] != ' ' && s[i] != '_' && s[i] != '-')
			k[m++] = (char)lc((unsigned char)s[i]);
	k[m] = '\0';
	for (size_t i = 0; i < NELEM(exact); i++)
		if (strcmp(k, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < NELEM(reference); i++)
		if (strstr(k, reference[i]))
			return false;
	for (size_t i = 0; i < NELEM(suffix); i++) {
		size_t sl = strlen(suffix[i]);
		if (m >= sl && strcmp(k + m - sl, suffix[i]) == 0)
			return true;
	}
	return false;
}

/* Tells the sink which columns are read: "url (2), dst_ip (5)", and
 * how they were chosen. */
static void
say_columns(const struct feed_sink *k, const struct csv *c, const bool *use, size_t nuse, bool header, const char *how)
{
	if (k->columns == NULL)
		return;
	struct strbuf sb = {0};
	for (size_t i = 0; i < nuse; i++) {
		if (!use[i])
			continue;
		size_t n = 0;
		const char *s = header && i < c->nf ? fval(c, i, &n) : "";
		char name[64];
		echo_str(s, n, name, sizeof(name));
		sb_addf(&sb, "%s%s%s(%zu)", sb.len ? ", " : "", name, n ? " " : "", i + 1);
	}
	sb_addf(&sb, "%s%s", sb.len ? "; " : "none; ", how);
	k->columns(k->ctx, sb.buf);
	sb_free(&sb);
}

static bool
field_is_ioc(const char *s, size_t n)
{
	struct ioc i;
	struct ioc_opts o = {.types = IOC_TYPES_AUTO, .url_feed = false};
	if (n == 0 || n > LIMIT_VALUE_BYTES)
		return false;
	/* Several values in one field: judge by the first. */
	size_t t = 0;
	while (t < n && s[t] != ',' && s[t] != ' ' && s[t] != ';' && s[t] != '|')
		t++;
	if (memmem(s, n, "://", 3))
		t = n;
	return ioc_parse(s, t, &o, &i, NULL, 0) == REJ_OK;
}

static void
emit_field(const struct feed_sink *k, unsigned long line, const char *s, size_t n)
{
	bool url = memmem(s, n, "://", 3) != NULL;
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_space((unsigned char)s[i]) || s[i] == ';' || s[i] == '|' || (!url && s[i] == ',')))
			i++;
		size_t st = i;
		while (i < n && !is_space((unsigned char)s[i]) && s[i] != ';' && s[i] != '|' && (url || s[i] != ','))
			i++;
		if (i > st) {
			struct feed_entry e = {.value = s + st, .len = i - st, .line = line};
			k->entry(k->ctx, &e);
		}
	}
}

/* The columns csv_columns names (numbers from 1, or header names) into
 * use[*nuse] (grown for a number past the first row's fields). */
static enum err
columns_named(const struct csv *c, const char *names, bool header, unsigned long start, bool **use, size_t *nuse,
	      char *why, size_t whysz)
{
	const char *p = names;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		size_t n = (size_t)(p - s);
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (n == 0)
			continue;
		char tmp[64];
		long long idx;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 63 ? n : 63), s);
		if (num_parse(tmp, 1, LIMIT_CSV_FIELDS, &idx, NULL) == ERR_OK) {
			if ((size_t)idx > *nuse) {
				size_t had = *nuse;
				xgrow((void **)use, nuse, (size_t)idx, sizeof(**use));
				memset(*use + had, 0, (*nuse - had) * sizeof(**use));
			}
			(*use)[idx - 1] = true;
			continue;
		}
		size_t i;
		for (i = 0; header && i < c->nf; i++) {
			size_t fl;
			const char *f = fval(c, i, &fl);
			if (fl == n && mem_ieq(f, s, n))
				break;
		}
		if (!header || i == c->nf) {
			snprintf(why, whysz, "column \"%s\" is not in the header row (line %lu)", tmp, start);
			return ERR_PARSE;
		}
		(*use)[i] = true;
	}
	return ERR_OK;
}

/* Columns by content: those whose values are mostly indicators, judged
 * on the first row (unless it is a header) and LIMIT_CSV_SNIFF_ROWS more. */
static void
columns_by_content(const struct csv *c, bool header, bool *use, size_t nuse)
{
	struct csv peek = *c;
	size_t *hits = xcalloc(nuse, sizeof(*hits)), *filled = xcalloc(nuse, sizeof(*filled));
	unsigned long st;
	const char *b;
	peek.scratch = (struct strbuf){0};
	peek.f = NULL;
	peek.fcap = 0;
	for (size_t i = 0; !header && i < c->nf; i++) {
		size_t n;
		const char *s = fval(c, i, &n);
		filled[i] += n > 0;
		hits[i] += field_is_ioc(s, n);
	}
	for (int rows = 0; rows < LIMIT_CSV_SNIFF_ROWS;) {
		enum rec pr = next_record(&peek, &st, &b);
		if (pr == REC_END || pr == REC_BAD)
			break;
		if (pr == REC_COMMENT)
			continue;
		rows++;
		for (size_t i = 0; i < peek.nf && i < nuse; i++) {
			size_t n;
			const char *s = fval(&peek, i, &n);
			filled[i] += n > 0;
			hits[i] += field_is_ioc(s, n);
		}
	}
	for (size_t i = 0; i < nuse; i++)
		use[i] = filled[i] > 0 && hits[i] * 2 >= filled[i];
	free(hits);
	free(filled);
	sb_free(&peek.scratch);
	free(peek.f);
}

/* The columns that hold indicators, from the first record: named by
 * csv_columns, else by header name, else by content. */
static enum err
pick_columns(const struct csv *c, const struct feed_opts *o, const struct feed_sink *k, bool header,
	     unsigned long start, bool **use, size_t *nuse, char *why, size_t whysz)
{
	*nuse = c->nf;
	*use = xcalloc(*nuse ? *nuse : 1, sizeof(**use));
	if (o->csv_columns && *o->csv_columns) {
		enum err e = columns_named(c, o->csv_columns, header, start, use, nuse, why, whysz);
		if (e == ERR_OK)
			say_columns(k, c, *use, *nuse, header, "named by csv_columns");
		return e;
	}
	bool any = false;
	for (size_t i = 0; header && i < c->nf; i++) {
		size_t n;
		const char *s = fval(c, i, &n);
		(*use)[i] = ioc_header(s, n);
		any |= (*use)[i];
	}
	if (!any)
		columns_by_content(c, header, *use, *nuse);
	say_columns(k, c, *use, *nuse, header, any ? "by header name" : "by content");
	return ERR_OK;
}

enum err
feed_csv_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
	       size_t whysz)
{
	struct csv c = {0};
	unsigned long start;
	const char *bad = NULL;
	bool *use = NULL;
	size_t nuse = 0;
	enum rec r;
	enum err rc = ERR_OK;
	int header = o->csv_header;

	c.p = buf;
	c.end = buf + len;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	c.delim = o->csv_delim ? o->csv_delim : sniff_delim(c.p, c.end);

	/* The first record decides the header and the columns. */
	while ((r = next_record(&c, &start, &bad)) == REC_COMMENT || r == REC_BAD)
		if (r == REC_BAD)
			k->reject(k->ctx, start, REJ_MALFORMED, bad, "", 0);
	if (r == REC_END)
		goto out;
	if (header < 0) {
		header = 1;
		for (size_t i = 0; i < c.nf; i++) {
			size_t n;
			const char *s = fval(&c, i, &n);
			if (field_is_ioc(s, n))
				header = 0;
		}
	}
	if ((rc = pick_columns(&c, o, k, header, start, &use, &nuse, why, whysz)) != ERR_OK)
		goto out;
	for (;;) {
		if (!header) {
			for (size_t i = 0; i < c.nf && i < nuse; i++) {
				size_t n;
				const char *s = fval(&c, i, &n);
				if (use[i])
					emit_field(k, start, s, n);
			}
		}
		header = 0;
		do
			r = next_record(&c, &start, &bad);
		while (r == REC_COMMENT);
		if (r == REC_END)
			break;
		if (r == REC_BAD) {
			k->reject(k->ctx, start, REJ_MALFORMED, bad, "", 0);
			header = 1; /* nothing to emit for it */
			continue;
		}
		if (c.nf == 1 && c.f[0].len == 0)
			header = 1; /* blank line */
	}
out:
	free(use);
	sb_free(&c.scratch);
	free(c.f);
	return rc;
}

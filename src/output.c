#include "output.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void
print_json(FILE *fp, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s) {
		fputs(s, fp);
		fputc('\n', fp);
		free(s);
	}
	json_decref(j);
}

static void
src_string(char *buf, size_t sz, const char *name, unsigned long line)
{
	if (line)
		snprintf(buf, sz, "%s:%lu", name, line);
	else
		snprintf(buf, sz, "%s", name);
}

/* ":line" (nothing for line 0) at the end of num; returns its start. */
static char *
line_suffix(char num[24], unsigned long line)
{
	char *p = num + 24;
	if (line == 0)
		return p;
	for (; line; line /= 10)
		*--p = (char)('0' + line % 10);
	*--p = ':';
	return p;
}

struct piece {
	const char *s;
	size_t n;
};

/*
 * Writes the pieces as one text line. These are check's hot path
 * (millions of lines): a line is built in a buffer and written with one
 * fwrite, printf costing several times more; one too long for the buffer
 * (a long path) goes out piece by piece, whole. Inlined and unrolled, the
 * copies of the callers' constant pieces become plain stores.
 */
static inline __attribute__((always_inline)) void
put_line(FILE *fp, const struct piece *p, size_t np)
{
	char buf[4096], *w = buf;
	size_t need = 0;
	for (size_t i = 0; i < np; i++)
		need += p[i].n;
	if (need > sizeof(buf)) {
		for (size_t i = 0; i < np; i++)
			fwrite_unlocked(p[i].s, 1, p[i].n, fp);
		return;
	}
#pragma GCC unroll 16
	for (size_t i = 0; i < np; i++) {
		memcpy(w, p[i].s, p[i].n);
		w += p[i].n;
	}
	fwrite_unlocked(buf, 1, need, fp);
}

static void
on_accepted(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value, size_t len)
{
	struct output *o = ctx;
	char src[512];
	if (o->quiet)
		return;
	if (o->json) {
		src_string(src, sizeof(src), c->name, line);
		print_json(o->fp,
			   json_pack("{s:s, s:s%, s:s}", "type", ioc_type_name(t), "value", value, len, "source", src));
		return;
	}
	const char *tn = ioc_type_name(t);
	char num[24], *p = line_suffix(num, line);
	const struct piece parts[] = {{tn, strlen(tn)},
				      {"\t", 1},
				      {value, len},
				      {"\t", 1},
				      {c->name, strlen(c->name)},
				      {p, (size_t)(num + sizeof(num) - p)},
				      {"\n", 1}};
	put_line(o->fp, parts, NELEM(parts));
}

/* A reason may quote the feed (a bad port, an unmappable STIX path):
 * printed as it is when it is plain text, else escaped like the input. */
static const char *
plain(const char *why, char *buf, size_t bufsz)
{
	if (why == NULL)
		return "";
	for (const unsigned char *p = (const unsigned char *)why; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return echo_str(why, strlen(why), buf, bufsz);
	return why;
}

static void
on_rejected(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason r, const char *why, const char *in,
	    size_t n)
{
	struct output *o = ctx;
	char src[512], echo[LIMIT_ECHO_BYTES * 4 + 8], wbuf[LIMIT_ECHO_BYTES * 4 + 8];
	why = plain(why, wbuf, sizeof(wbuf));
	if (o->collect) {
		if (o->examples == NULL)
			o->examples = json_object();
		const char *code = ioc_reason_code(r);
		json_t *l = json_object_get(o->examples, code);
		if (l == NULL)
			json_object_set_new(o->examples, code, l = json_array());
		if (json_array_size(l) < 3) {
			src_string(src, sizeof(src), c->name, line);
			echo_str(in, n, echo, sizeof(echo));
			json_array_append_new(
				l, json_pack("{s:s, s:s, s:s}", "input", echo, "why", why ? why : "", "source", src));
		}
	}
	if (o->quiet)
		return;
	echo_str(in, n, echo, sizeof(echo));
	if (o->json) {
		src_string(src, sizeof(src), c->name, line);
		print_json(o->fp,
			   json_pack("{s:s, s:s, s:s, s:s}", "rejected", ioc_reason_code(r), "why", why ? why : "",
				     "input", echo, "source", src));
		return;
	}
	/* "SOURCE: rejected (CODE): WHY: INPUT", "rejected" red on a terminal */
	const char *mid = o->color ? ": \033[31mrejected\033[0m (" : ": rejected (", *code = ioc_reason_code(r);
	if (why == NULL)
		why = "";
	char num[24], *p = line_suffix(num, line);
	const struct piece parts[] = {{c->name, strlen(c->name)},
				      {p, (size_t)(num + sizeof(num) - p)},
				      {mid, strlen(mid)},
				      {code, strlen(code)},
				      {"): ", 3},
				      {why, strlen(why)},
				      {": ", 2},
				      {echo, strlen(echo)},
				      {"\n", 1}};
	put_line(o->fp, parts, NELEM(parts));
}

void
output_stdout(struct output *o)
{
	bool tty = isatty(STDOUT_FILENO);
	o->fp = stdout;
	o->color = !o->json && tty && getenv("NO_COLOR") == NULL;
	if (!tty) {
		/* glibc ignores setvbuf's size when it gets no buffer: 4 KiB
		 * writes of check's 500 MB listing were 125,000 system calls. */
		static char buf[1 << 20];
		setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	}
}

struct pipe_out
output_pipe(struct output *o)
{
	return (struct pipe_out){o, on_accepted, on_rejected};
}

void *
output_feed_summary(struct output *o, const char *name, const struct feed_stats *st, const char *error, void *extra)
{
	json_t *s = NULL;
	if (o->json || o->collect) {
		json_t *acc = json_object(), *rej = json_object();
		for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
			if (st->accepted[t])
				json_object_set_new(acc, ioc_type_name((enum ioc_type)t),
						    json_integer((json_int_t)st->accepted[t]));
		for (int r = 1; r < REJ__COUNT; r++)
			if (st->rejected[r])
				json_object_set_new(rej, ioc_reason_code((enum ioc_reason)r),
						    json_integer((json_int_t)st->rejected[r]));
		s = json_pack("{s:s, s:s, s:I, s:o, s:I, s:I, s:o, s:I, s:I, s:I}", "name", name, "format",
			      feed_format_name(st->format), "entries", (json_int_t)st->entries, "accepted", acc,
			      "accepted_total", (json_int_t)st->accepted_total, "duplicates",
			      (json_int_t)st->duplicates, "rejected", rej, "rejected_total",
			      (json_int_t)st->rejected_total, "prose_words_skipped", (json_int_t)st->prose_skipped,
			      "cidr_expanded", (json_int_t)st->cidr_expanded);
		if (error)
			json_object_set_new(s, "error", json_string(error));
		if (st->columns[0])
			json_object_set_new(s, "columns", json_string(st->columns));
		if (extra)
			json_object_update(s, (json_t *)extra);
		if (o->examples) {
			json_object_set_new(s, "examples", (json_t *)o->examples);
			o->examples = NULL;
		}
		if (o->summaries == NULL)
			o->summaries = json_array();
		json_array_append((json_t *)o->summaries, s);
		if (o->json)
			return s;
	}
	fprintf(o->fp, "== %s (%s)%s%s\n", name, feed_format_name(st->format), error ? ": ERROR: " : "",
		error ? error : "");
	fprintf(o->fp, "   entries %lu, accepted %lu", st->entries, st->accepted_total);
	const char *sep = " (";
	for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
		if (st->accepted[t]) {
			fprintf(o->fp, "%s%s %lu", sep, ioc_type_name((enum ioc_type)t), st->accepted[t]);
			sep = ", ";
		}
	fprintf(o->fp, "%s, duplicates %lu, rejected %lu", *sep == ',' ? ")" : "", st->duplicates, st->rejected_total);
	sep = " (";
	for (int r = 1; r < REJ__COUNT; r++)
		if (st->rejected[r]) {
			fprintf(o->fp, "%s%s %lu", sep, ioc_reason_code((enum ioc_reason)r), st->rejected[r]);
			sep = ", ";
		}
	fprintf(o->fp, "%s\n", *sep == ',' ? ")" : "");
	if (st->prose_skipped || st->cidr_expanded)
		fprintf(o->fp, "   words of prose that were no indicator %lu, addresses from CIDR expansion %lu\n",
			st->prose_skipped, st->cidr_expanded);
	if (st->columns[0])
		fprintf(o->fp, "   columns read: %s\n", st->columns);
	return s;
}

void
output_forget_examples(struct output *o)
{
	json_decref((json_t *)o->examples);
	o->examples = NULL;
}

void
output_total(struct output *o, size_t distinct, size_t nfeeds, size_t failed)
{
	if (o->json) {
		print_json(o->fp,
			   json_pack("{s:{s:o, s:I, s:I, s:I}}", "summary", "files",
				     o->summaries ? (json_t *)o->summaries : json_array(), "distinct",
				     (json_int_t)distinct, "sources", (json_int_t)nfeeds, "failed",
				     (json_int_t)failed));
		o->summaries = NULL;
		return;
	}
	fprintf(o->fp, "== total: %zu distinct indicators from %zu source%s%s", distinct, nfeeds,
		nfeeds == 1 ? "" : "s", failed ? "" : "\n");
	if (failed)
		fprintf(o->fp, ", %zu could not be read\n", failed);
}

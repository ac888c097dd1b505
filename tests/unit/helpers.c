#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "merge.h"
#include "policy.h"

static void
on_acc(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value, size_t len)
{
	struct result *r = ctx;
	(void)c;
	(void)line;
	sb_addf(&r->accepted, "%s %.*s\n", ioc_type_name(t), (int)len, value);
}

static void
on_rej(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason code, const char *why, const char *in,
       size_t n)
{
	struct result *r = ctx;
	(void)c;
	(void)why;
	char echo[1024];
	sb_addf(&r->rejected, "%s %lu %s\n", ioc_reason_code(code), line, echo_str(in, n, echo, sizeof(echo)));
}

static struct policy *pol;

void
run_buf(struct result *r, enum feed_format f, unsigned types, const char *buf, size_t len)
{
	struct feed_opts fo = {.format = f, .csv_header = -1};
	struct merge *m = merge_new();
	struct pipe_out po = {r, on_acc, on_rej};
	if (pol == NULL)
		pol = policy_new();
	struct pipe_cfg pc = {.name = "test", .types = types, .cidr = CIDR_SKIP, .cidr_max_addrs = 256, .policy = pol};
	memset(r, 0, sizeof(*r));
	sb_add(&r->accepted, "", 0);
	sb_add(&r->rejected, "", 0);
	r->rc = pipeline_run(&pc, &fo, buf, len, m, &po, &r->st, r->why, sizeof(r->why));
	merge_free(m);
}

void
run_str(struct result *r, enum feed_format f, unsigned types, const char *s)
{
	run_buf(r, f, types, s, strlen(s));
}

void
result_free(struct result *r)
{
	sb_free(&r->accepted);
	sb_free(&r->rejected);
}

int
accepted_has(const struct result *r, const char *type, const char *value)
{
	/* A whole line: "Type value\n" at the start or after a newline. */
	char *line = xasprintf("\n%s %s\n", type, value);
	char *all = xasprintf("\n%s", r->accepted.buf ? r->accepted.buf : "");
	int found = strstr(all, line) != NULL;
	free(line);
	free(all);
	return found;
}

int
shared_available(void)
{
	return access(SHARED_FEEDS "/SOURCES.md", R_OK) == 0;
}

int
shared_required(void)
{
	const char *ci = getenv("CI");
	return ci && (strcasecmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}

char *
shared_feed(const char *rel, size_t *len)
{
	char *path = xasprintf("%s/%s", SHARED_FEEDS, rel), *buf = NULL;
	if (file_read(path, 1 << 30, &buf, len) != ERR_OK)
		fail_msg("cannot read %s", path);
	free(path);
	return buf;
}

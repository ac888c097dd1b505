/* hosts(5) files: "ADDRESS name [name...] [# comment]". The address is a
 * sinkhole (0.0.0.0, 127.0.0.1, ::1...); the names are the indicators.
 * localhost-style names are skipped; a line of bare names is taken too. */
#include <string.h>

#include "feed.h"
#include "util.h"

static const char *const local_names[] = {
	"localhost",    "localhost.localdomain", "local",        "broadcasthost",  "ip6-localhost", "ip6-loopback",
	"ip6-localnet", "ip6-mcastprefix",       "ip6-allnodes", "ip6-allrouters", "ip6-allhosts",  "0.0.0.0",
};

static bool
is_local(const char *s, size_t n)
{
	for (size_t i = 0; i < NELEM(local_names); i++)
		if (strlen(local_names[i]) == n && mem_ieq(s, local_names[i], n))
			return true;
	return false;
}

static bool
is_address(const char *s, size_t n)
{
	size_t colons = 0, dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':')
			colons++;
		else if (s[i] == '.')
			dots++;
		else if (!is_xdigit((unsigned char)s[i]))
			return false;
	}
	return colons >= 2 || (dots == 3 && colons == 0);
}

enum err
feed_hosts_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
		 size_t whysz)
{
	struct feed_lines l;
	const char *s;
	size_t n;

	(void)o;
	(void)why;
	(void)whysz;
	feed_lines_init(&l, buf, len);
	while (feed_lines_next(&l, &s, &n)) {
		const char *hash = memchr(s, '#', n);
		const char *comment = NULL;
		size_t comment_len = 0;
		if (hash) {
			comment = hash + 1;
			comment_len = n - (size_t)(hash + 1 - s);
			n = (size_t)(hash - s);
		}
		if (feed_line_bad(k, l.no, s, n))
			continue;
		size_t i = 0, tok = 0;
		while (i < n) {
			while (i < n && is_space((unsigned char)s[i]))
				i++;
			size_t st = i;
			while (i < n && !is_space((unsigned char)s[i]))
				i++;
			if (i == st)
				break;
			if (tok++ == 0 && is_address(s + st, i - st))
				continue; /* the sinkhole address */
			if (is_local(s + st, i - st))
				continue;
			struct feed_entry e = {.value = s + st,
					       .len = i - st,
					       .line = l.no,
					       .comment = comment,
					       .comment_len = comment_len};
			k->entry(k->ctx, &e);
		}
	}
	feed_lines_done(&l, k);
	return ERR_OK;
}

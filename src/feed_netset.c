/* Address lists: single IPs and CIDRs with "; comment" or "# comment"
 * (Spamhaus DROP, FireHOL netsets), and DShield's block.txt rows
 * "start<TAB>end<TAB>bits<TAB>..." which become start/bits. */
#include <stdio.h>
#include <string.h>

#include "feed.h"
#include "util.h"

enum err
feed_netset_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
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
		const char *c = memchr(s, ';', n);
		if (c)
			n = (size_t)(c - s);
		c = memchr(s, '#', n);
		if (c)
			n = (size_t)(c - s);
		if (feed_line_bad(k, l.no, s, n))
			continue;
		const char *tok[3];
		size_t tl[3], nt = 0, i = 0;
		while (i < n && nt < 3) {
			while (i < n && is_space((unsigned char)s[i]))
				i++;
			if (i == n)
				break;
			tok[nt] = s + i;
			while (i < n && !is_space((unsigned char)s[i]))
				i++;
			tl[nt] = (size_t)(s + i - tok[nt]);
			nt++;
		}
		if (nt == 0)
			continue;
		struct feed_entry e = {.value = tok[0], .len = tl[0], .line = l.no, .types = IOC_BIT(IOC_IP)};
		char cidr[64];
		bool bits = nt == 3 && tl[2] > 0 && tl[2] <= 3;
		for (size_t d = 0; bits && d < tl[2]; d++)
			bits = is_digit((unsigned char)tok[2][d]);
		if (bits && tl[0] < 40 && memchr(tok[0], '/', tl[0]) == NULL && memchr(tok[1], '.', tl[1]) != NULL) {
			int m = snprintf(cidr, sizeof(cidr), "%.*s/%.*s", (int)tl[0], tok[0], (int)tl[2], tok[2]);
			e.value = cidr;
			e.len = (size_t)m;
		}
		k->entry(k->ctx, &e);
	}
	feed_lines_done(&l, k);
	return ERR_OK;
}

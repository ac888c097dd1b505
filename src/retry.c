#include "retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum retry_verdict
retry_decide(long status, enum http_fail fail)
{
	if (status == 0) {
		switch (fail) {
		case HTTP_FAIL_CONNECT:
		case HTTP_FAIL_TIMEOUT:
		case HTTP_FAIL_RESET: return RETRY_AGAIN;
		default: /* TLS, a reply over the cap, the unknown: no */ return RETRY_FAIL;
		}
	}
	if (status == 401)
		return RETRY_REFRESH;
	if (status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
		return RETRY_AGAIN;
	return RETRY_DONE;
}

static int
month_index(const char *m)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (memcmp(names + 3 * i, m, 3) == 0)
			return i;
	return -1;
}

double
retry_after_parse(const char *v, time_t now, double max_s)
{
	if (v == NULL || *v == '\0')
		return -1;
	double s;
	if (is_digit((unsigned char)*v)) {
		long long n;
		const char *why;
		if (num_parse(v, 0, 1LL << 40, &n, &why) != ERR_OK)
			return -1;
		s = (double)n;
	} else {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
		char wd[4], mon[4], gmt[4];
		int d, y, hh, mm, ss, used = 0;
		if (sscanf(v, "%3s, %d %3s %d %d:%d:%d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, gmt, &used) != 8 ||
		    v[used] != '\0' || strcmp(gmt, "GMT") != 0 || month_index(mon) < 0 || d < 1 || d > 31 || y < 1970 ||
		    hh > 23 || mm > 59 || ss > 60)
			return -1;
		struct tm tm = {.tm_year = y - 1900,
				.tm_mon = month_index(mon),
				.tm_mday = d,
				.tm_hour = hh,
				.tm_min = mm,
				.tm_sec = ss};
		time_t t = timegm(&tm);
		s = t > now ? (double)(t - now) : 0;
	}
	return s > max_s ? max_s : s;
}

double
retry_backoff(unsigned attempt, double base_s, double cap_s, uint64_t *rng)
{
	double d = base_s;
	for (unsigned i = 1; i < attempt && d < cap_s; i++)
		d *= 2;
	if (d > cap_s)
		d = cap_s;
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	double f = 0.5 + 0.5 * (double)(x >> 11) / (double)(1ULL << 53);
	return d * f;
}

/*
 * Domain names: lower case, IDNA 2008 to punycode (libidn2), no
 * trailing dot, each label checked (RFC 1035 lengths, letters, digits,
 * hyphens, the underscore of service names).
 */
#include "ioc_int.h"

#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static enum ioc_reason
check_labels(const char *d, size_t n, char *why, size_t whysz)
{
	size_t start = 0, labels = 0;
	bool tld_digits = true;

	if (n == 0) {
		set_why(why, whysz, "empty domain name");
		return REJ_BAD_DOMAIN;
	}
	if (n > LIMIT_DOMAIN_BYTES) {
		set_why(why, whysz, "longer than %d characters (RFC 1035 2.3.4)", LIMIT_DOMAIN_BYTES);
		return REJ_BAD_DOMAIN;
	}
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			unsigned char c = (unsigned char)d[i];
			if (!is_alnum(c) && c != '-' && c != '_') {
				set_why(why, whysz, "character '%s%c' not allowed in a domain name",
					c < 0x20 || c >= 0x7f ? "\\" : "", c < 0x20 || c >= 0x7f ? '?' : c);
				return REJ_BAD_DOMAIN;
			}
			continue;
		}
		size_t ll = i - start;
		if (ll == 0) {
			set_why(why, whysz, "empty label");
			return REJ_BAD_DOMAIN;
		}
		if (ll > LIMIT_LABEL_BYTES) {
			set_why(why, whysz, "label longer than %d characters (RFC 1035 2.3.4)", LIMIT_LABEL_BYTES);
			return REJ_BAD_DOMAIN;
		}
		if (d[start] == '-' || d[i - 1] == '-') {
			set_why(why, whysz, "label starts or ends with '-' (RFC 1123 2.1)");
			return REJ_BAD_DOMAIN;
		}
		tld_digits = true;
		for (size_t k = start; k < i; k++)
			if (!is_digit((unsigned char)d[k]))
				tld_digits = false;
		labels++;
		start = i + 1;
	}
	if (labels < 2) {
		set_why(why, whysz, "a single label is not an Internet domain name");
		return REJ_BAD_DOMAIN;
	}
	if (tld_digits) {
		set_why(why, whysz, "top-level label is all digits");
		return REJ_BAD_DOMAIN;
	}
	return REJ_OK;
}

/* Host name bytes: D_UPPER is the bit that lowercases an ASCII letter. */
enum {
	D_OK = 1,
	D_DIGIT = 2,
	D_DOT = 4,
	D_UPPER = 32
};
#define DCLS(c) \
	((c) >= 'A' && (c) <= 'Z'           ? D_OK | D_UPPER \
		 : (c) >= 'a' && (c) <= 'z' ? D_OK \
		 : (c) >= '0' && (c) <= '9' ? D_OK | D_DIGIT \
		 : (c) == '-' || (c) == '_' ? D_OK \
		 : (c) == '.'               ? D_DOT \
					    : 0)
static const uint8_t dom_class[256] = BYTE_TABLE(DCLS);

/* Lowercases in[0..n) (n <= LIMIT_DOMAIN_BYTES) into out, NUL-terminated,
 * and returns true when the name plainly passes check_labels: ASCII
 * letters, digits, '-' and '_' in two labels or more, none empty, over
 * LIMIT_LABEL_BYTES or starting or ending with '-', and a top-level
 * label not all digits. One look at each byte; false leaves the verdict
 * (and its reason) to the full checks. */
static bool
canon_ascii_ok(const char *in, size_t n, char *out)
{
	size_t start = 0, labels = 0;
	unsigned all = D_OK, digits = D_DIGIT;
	bool bad = n == 0;

	for (size_t i = 0; i <= n; i++) {
		unsigned c = i < n ? (unsigned char)in[i] : '.';
		unsigned k = dom_class[c];
		if (k & D_DOT) {
			size_t ll = i - start;
			bad |= ll == 0 || ll > LIMIT_LABEL_BYTES || in[start] == '-' || in[i - 1] == '-';
			labels++;
			start = i + 1;
			if (i < n)
				digits = D_DIGIT;
		} else {
			all &= k;
			digits &= k;
		}
		out[i] = (char)(c | (k & D_UPPER));
	}
	out[n] = '\0';
	return !bad && all == D_OK && labels >= 2 && digits == 0;
}

enum ioc_reason
ioc_domain_canon(const char *in, size_t n, char *out, size_t *outlen, char *why, size_t whysz)
{
	bool ascii = true;

	/* "*.example.com" and adblock-style ".example.com" mean the domain
	 * and its subdomains, which is what a DomainName indicator does. */
	if (n >= 2 && in[0] == '*' && in[1] == '.') {
		in += 2;
		n -= 2;
	} else if (n >= 1 && in[0] == '.') {
		in++;
		n--;
	}
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n > LIMIT_DOMAIN_BYTES * 4) {
		set_why(why, whysz, "longer than %d characters (RFC 1035 2.3.4)", LIMIT_DOMAIN_BYTES);
		return REJ_BAD_DOMAIN;
	}
	if (n <= LIMIT_DOMAIN_BYTES && canon_ascii_ok(in, n, out)) {
		*outlen = n;
		return REJ_OK;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (n > LIMIT_DOMAIN_BYTES) {
			set_why(why, whysz, "longer than %d characters (RFC 1035 2.3.4)", LIMIT_DOMAIN_BYTES);
			return REJ_BAD_DOMAIN;
		}
		for (size_t i = 0; i < n; i++)
			out[i] = (char)lc((unsigned char)in[i]);
		out[n] = '\0';
		*outlen = n;
	} else {
		char tmp[LIMIT_DOMAIN_BYTES * 4 + 1];
		char *a = NULL;
		int rc;
		if (!utf8_valid(in, n)) {
			set_why(why, whysz, "domain name is not valid UTF-8");
			return REJ_BAD_UTF8;
		}
		memcpy(tmp, in, n);
		tmp[n] = '\0';
		rc = idn2_to_ascii_8z(tmp, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK)
			rc = idn2_to_ascii_8z(tmp, &a, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
		if (rc != IDN2_OK) {
			set_why(why, whysz, "not a valid internationalized domain name: %s", idn2_strerror(rc));
			return REJ_BAD_DOMAIN;
		}
		size_t an = strlen(a);
		if (an > LIMIT_DOMAIN_BYTES) {
			idn2_free(a);
			set_why(why, whysz, "longer than %d characters once in punycode", LIMIT_DOMAIN_BYTES);
			return REJ_BAD_DOMAIN;
		}
		for (size_t i = 0; i < an; i++)
			out[i] = (char)lc((unsigned char)a[i]);
		out[an] = '\0';
		*outlen = an;
		idn2_free(a);
	}
	return check_labels(out, *outlen, why, whysz);
}

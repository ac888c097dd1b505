/*
 * libFuzzer target: the canonicalizers, with their contract checked, not
 * only their memory. The first byte picks the options (allowed types,
 * thumbprints, URL feed). For a value ioc_parse accepts:
 * - the canonical value fits MDE's limit and holds no space or control
 *   byte;
 * - it is a fixed point: parsed again it is accepted, as the same type,
 *   with the same value (when the input was not defanged: refanging is
 *   one pass, so "[[.]]" may still hold a "[.]" afterwards);
 * - a domain is what ioc_domain_canon makes of it.
 * ioc_refang never writes past its buffer and never grows the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *in, size_t len, const struct ioc *a, const struct ioc *b)
{
	fprintf(stderr, "fuzz_canon: %s\n  input: %.*s\n  first: %s (%s)\n  again: %s (%s)\n", what, (int)len, in,
		a->value, ioc_type_name(a->type), b ? b->value : "", b ? ioc_type_name(b->type) : "");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	static const unsigned masks[] = {0,
					 IOC_BIT(IOC_IP),
					 IOC_BIT(IOC_DOMAIN),
					 IOC_BIT(IOC_URL),
					 IOC_HASHES,
					 IOC_BIT(IOC_CERT),
					 IOC_TYPES_AUTO | IOC_BIT(IOC_CERT),
					 IOC_BIT(IOC_DOMAIN) | IOC_BIT(IOC_URL)};
	struct ioc_opts o = {.types = masks[sel & 7], .cert = (sel & 8) != 0, .url_feed = (sel & 16) != 0};
	/* apart, so ASan sees a write past either */
	struct ioc *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char why[256];
	if (ioc_parse(in, len, &o, a, why, sizeof(why)) == REJ_OK) {
		if (a->len != strlen(a->value) || a->len == 0)
			fail("the length is not the value's", in, len, a, NULL);
		if (a->prefix < 0 && a->len > LIMIT_VALUE_BYTES)
			fail("the value passes MDE's limit", in, len, a, NULL);
		for (size_t i = 0; i < a->len; i++)
			if ((unsigned char)a->value[i] <= ' ' || a->value[i] == 0x7f)
				fail("the value holds a space or a control byte", in, len, a, NULL);
		if (!a->defanged) {
			if (ioc_parse(a->value, a->len, &o, b, why, sizeof(why)) != REJ_OK)
				fail("the canonical value is refused when parsed again", in, len, a, b);
			if (b->type != a->type || strcmp(a->value, b->value) != 0 || b->prefix != a->prefix)
				fail("the canonical value is not a fixed point", in, len, a, b);
		}
		if (a->type == IOC_DOMAIN) {
			char d[LIMIT_DOMAIN_BYTES + 1];
			size_t dl;
			if (ioc_domain_canon(a->value, a->len, d, &dl, why, sizeof(why)) != REJ_OK || dl != a->len ||
			    memcmp(d, a->value, dl) != 0)
				fail("a domain is not its own canonical form", in, len, a, NULL);
		}
	}
	char small[64];
	bool changed = false;
	size_t n = ioc_refang(in, len, small, sizeof(small), &changed);
	if (n >= sizeof(small) || small[n] != '\0' || n > len)
		abort();
	free(a);
	free(b);
	return 0;
}

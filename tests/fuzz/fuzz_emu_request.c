/* libFuzzer: request bodies through mde-emulator's whole handler, with a
 * valid token. The first byte picks the endpoint; the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../emu/emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct emu *e;
static char *auth;

static void
handle(const char *method, const char *path, const char *ctype, const char *body, size_t len)
{
	struct request q = {.method = method,
			    .path = path,
			    .full_path = path,
			    .body = body,
			    .body_len = len,
			    .content_type = ctype,
			    .authorization = auth};
	struct reply r = {0};
	emu_handle(e, &q, &r);
	reply_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *method, *path, *ctype;
	} eps[] = {
		{"POST", "/api/indicators", "application/json"},
		{"POST", "/api/indicators/import", "application/json"},
		{"POST", "/api/indicators/BatchDelete", "application/json"},
		{"POST", "/api/advancedqueries/run", "application/json"},
		{"POST", "/00000000-0000-0000-0000-000000000001/oauth2/token", "application/x-www-form-urlencoded"},
		{"POST", "/_emulator/state", "application/json"},
		{"POST", "/_emulator/faults", "application/json"},
		{"DELETE", "/api/indicators/1", NULL},
	};
	if (e == NULL) {
		e = emu_new();
		emu_demo(e);
		e->rate_limits = false;
		static const char form[] =
			"grant_type=client_credentials&client_id=11111111-1111-1111-1111-111111111111"
			"&client_secret=emulator-secret&resource=https%3A%2F%2Fapi.securitycenter.microsoft.com";
		struct request q = {.method = "POST",
				    .path = "/00000000-0000-0000-0000-000000000001/oauth2/token",
				    .full_path = "/",
				    .body = form,
				    .body_len = sizeof(form) - 1};
		struct reply r = {0};
		emu_handle(e, &q, &r);
		auth = xasprintf("Bearer %s", json_string_value(json_object_get(r.body, "access_token")));
		reply_free(&r);
		e->token_lifetime = 1L << 30;
	}
	if (size == 0)
		return 0;
	size_t k = data[0] % (sizeof(eps) / sizeof(eps[0]));
	handle(eps[k].method, eps[k].path, eps[k].ctype, (const char *)data + 1, size - 1);
	handle("POST", "/_emulator/reset", "application/json", "{}", 2);
	return 0;
}

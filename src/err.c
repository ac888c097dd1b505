#include "err.h"

static const char *const names[] = {
	[ERR_OK] = "success",
	[ERR_IO] = "input/output error",
	[ERR_PARSE] = "malformed input",
	[ERR_CONFIG] = "invalid configuration",
	[ERR_LIMIT] = "limit exceeded",
	[ERR_NET] = "network error",
	[ERR_HTTP] = "HTTP error",
	[ERR_STORE] = "state store error",
	[ERR_EMPTY] = "empty input",
	[ERR_USAGE] = "usage error",
};
_Static_assert(sizeof(names) / sizeof(names[0]) == ERR__COUNT, "err names");

const char *
err_str(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		return "unknown error";
	return names[e];
}

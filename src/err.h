#ifndef IOCSYNC_ERR_H
#define IOCSYNC_ERR_H

/* The one error enum of the project. 0 is success; everything else is a
 * failure. Functions return it; constructors return a pointer or NULL. */
enum err {
	ERR_OK = 0,
	ERR_IO,     /* a file or socket operation failed (errno says why) */
	ERR_PARSE,  /* input is malformed */
	ERR_CONFIG, /* the configuration is invalid */
	ERR_LIMIT,  /* a limit of iocsync_limits.h was hit */
	ERR_NET,    /* transport: DNS, connect, TLS, timeout */
	ERR_HTTP,   /* the server answered with an error status */
	ERR_STORE,  /* the state store failed */
	ERR_EMPTY,  /* input parsed to nothing where something was expected */
	ERR_USAGE,  /* the command line is wrong */
	ERR__COUNT
};

/* Returns a static, human-readable name of e; never NULL. */
const char *err_str(enum err e);

/* Exit codes (iocsync(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,  /* something could not be done (a file, a feed) */
	EXIT_USAGE = 2, /* bad command line or configuration */
};

#endif

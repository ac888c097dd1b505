/*
 * The MDE client's credential and tokens: the only code that sees the
 * client secret or the certificate's key, and the token they buy.
 * mde_auth_new checks where the credential lives (the file's owner and
 * mode, the variable's presence) but reads nothing; the credential is
 * read when the first token is needed, which is after every feed has
 * been parsed, and every copy of it is wiped when it is no longer needed.
 */
#ifndef IOCSYNC_MDE_AUTH_H
#define IOCSYNC_MDE_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "mde_transport.h"

struct mde_auth;

/* For the [mde] credential of c (exactly one of client_secret_file,
 * client_secret_env, client_secret_credential, certificate), tokens from
 * login for resource (alt_resource, may be NULL: the audience tried once
 * when Entra does not know resource, spec 9 gov-audience). NULL with why
 * filled when the credential is missing, unsafe or ambiguous. */
struct mde_auth *mde_auth_new(const struct config *c, const char *login, const char *resource, const char *alt_resource,
			      char *why, size_t whysz);
/* Wipes the credential and the token. NULL is a no-op. */
void mde_auth_free(struct mde_auth *a);

/* "Authorization: Bearer ..." for one request, getting a token first
 * when none is valid for a while (through t, before deadline). Free it
 * with mde_auth_header_free, which wipes it. */
enum err mde_auth_header(struct mde_auth *a, struct mde_transport *t, double deadline, char **hdr, char *why,
			 size_t whysz);
void mde_auth_header_free(char *hdr);

/* The token was refused (a 401): the next header gets a new one. */
void mde_auth_expire(struct mde_auth *a);

/* The claims of a token valid for a while (got first if need be, as
 * mde_auth_header does) into *claims: borrowed, valid until the next
 * call; NULL when the token's payload cannot be read. */
enum err mde_auth_claims(struct mde_auth *a, struct mde_transport *t, double deadline, const json_t **claims, char *why,
			 size_t whysz);

#endif

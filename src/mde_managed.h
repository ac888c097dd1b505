/*
 * A machine's managed identity (credential = managed-identity): a token
 * from its identity endpoint. Azure Arc's answers a first request with
 * 401 and "WWW-Authenticate: Basic realm=PATH"; the second carries that
 * key file's content, read only when it is a .key file right in the key
 * directory, regular, owned by root and writable by root only. An Azure
 * VM's endpoint answers at once. Part of mde_auth; the key is never shown.
 */
#ifndef IOCSYNC_MDE_MANAGED_H
#define IOCSYNC_MDE_MANAGED_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"
#include "mde_transport.h"

/* An identity endpoint: https, or http to a loopback address or
 * 169.254.169.254; no user or password. */
bool mde_managed_url_ok(const char *url, char *why, size_t whysz);

/* Asks endpoint for a token for resource; *r is the final answer and
 * *url (to free) the URL asked, when ERR_OK. */
enum err mde_managed_request(struct mde_transport *t, const char *endpoint, const char *key_dir, const char *resource,
			     double deadline, struct http_reply *r, char **url, char *why, size_t whysz);

#endif

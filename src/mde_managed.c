#include "mde_managed.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iocsync_limits.h"
#include "util.h"

/* The key, its trailing white space cut; NULL (wiped) when empty or more
 * than one line. */
static char *
key_line(char *s, char *why, size_t whysz)
{
	size_t n = strlen(s);
	while (n && is_space((unsigned char)s[n - 1]))
		s[--n] = '\0';
	if (n == 0 || strchr(s, '\n')) {
		set_why(why, whysz, "the challenge's key file: %s", n ? "holds more than one line" : "empty");
		explicit_bzero(s, n);
		free(s);
		return NULL;
	}
	return s;
}

/* An identity endpoint: https, or http to a loopback address or the
 * link-local 169.254.169.254 (where an Azure VM's answers); no user. */
bool
mde_managed_url_ok(const char *url, char *why, size_t whysz)
{
	struct url_parts u;
	char w[300];
	if (http_url_parts(url, &u, w, sizeof(w)) && !u.userinfo &&
	    (strcmp(u.scheme, "https") == 0 ||
	     (strcmp(u.scheme, "http") == 0 && (u.loopback || strcmp(u.host, "169.254.169.254") == 0))))
		return true;
	set_why(why, whysz, "imds_url %s: https, or http to 127.0.0.1 (Azure Arc) or 169.254.169.254 (an Azure VM)",
		url);
	return false;
}

/* The content of the key file Arc's challenge names ("Basic
 * realm=PATH"), when PATH is a .key file right in key_dir, regular, owned
 * by root and writable by root only; NULL with why. The content is
 * never shown. */
static char *
arc_key(const char *key_dir, const char *challenge, char *why, size_t whysz)
{
	if (challenge == NULL || strncasecmp(challenge, "Basic realm=", 12) != 0) {
		set_why(why, whysz, "the managed identity endpoint answered 401 without a Basic realm challenge");
		return NULL;
	}
	const char *path = challenge + 12;
	char dir[PATH_MAX], real[PATH_MAX];
	size_t pl = strlen(path);
	bool inside = realpath(key_dir, dir) != NULL && realpath(path, real) != NULL;
	size_t dl = inside ? strlen(dir) : 0;
	if (!inside || strncmp(real, dir, dl) != 0 || real[dl] != '/' || strchr(real + dl + 1, '/') != NULL || pl < 5 ||
	    strcmp(path + pl - 4, ".key") != 0) {
		set_why(why, whysz, "the challenge names %.200s, not a .key file in imds_key_dir %.200s: refused", path,
			key_dir);
		return NULL;
	}
	int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & 022) ||
	    sb.st_size <= 0 || sb.st_size > LIMIT_ARC_KEY_BYTES) {
		if (fd >= 0)
			close(fd);
		set_why(why, whysz,
			"the challenge's key file %.200s is not a regular file owned by root, writable by root only, of "
			"1 to %d bytes: refused",
			real, LIMIT_ARC_KEY_BYTES);
		return NULL;
	}
	char *key = xcalloc(1, (size_t)sb.st_size + 1);
	ssize_t got = read(fd, key, (size_t)sb.st_size);
	close(fd);
	if (got != sb.st_size) {
		free(key);
		set_why(why, whysz, "the challenge's key file %.200s: cannot be read", real);
		return NULL;
	}
	return key_line(key, why, whysz);
}

/* Asks the machine's identity endpoint: Azure Arc's answers a first
 * request with a challenge naming a key file, whose content the second
 * request carries; an Azure VM's answers at once. */
enum err
mde_managed_request(struct mde_transport *t, const char *endpoint, const char *key_dir, const char *resource,
		    double deadline, struct http_reply *r, char **url_out, char *why, size_t whysz)
{
	char *res = http_escape(resource);
	char *url =
		xasprintf("%s%sapi-version=2019-11-01&resource=%s", endpoint, strchr(endpoint, '?') ? "&" : "?", res);
	free(res);
	*url_out = url;
	static const char *const first[] = {"Metadata: true", "Accept: application/json", NULL};
	enum retry_verdict v;
	enum err e = mde_transport_send(t, MDE_EP_TOKEN, "GET", url, first, NULL, 0, deadline, r, &v, why, whysz);
	if (e != ERR_OK || r->status != 401)
		return e;
	char *key = arc_key(key_dir, r->www_authenticate, why, whysz);
	http_reply_free(r);
	*r = (struct http_reply){0};
	if (key == NULL)
		return ERR_CONFIG;
	char *auth = xasprintf("Authorization: Basic %s", key);
	explicit_bzero(key, strlen(key));
	free(key);
	const char *const second[] = {"Metadata: true", "Accept: application/json", auth, NULL};
	e = mde_transport_send(t, MDE_EP_TOKEN, "GET", url, second, NULL, 0, deadline, r, &v, why, whysz);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	return e;
}

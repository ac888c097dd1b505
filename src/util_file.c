/* Files: read whole, mapped, written atomically, and read as private
 * (a secret's owner and mode checked). Part of util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iocsync_limits.h"

/* Reads all of fd (left open) into a NUL-terminated heap buffer. */
static enum err
read_all(int fd, long long max, char **buf, size_t *len)
{
	struct strbuf sb = {0};
	struct stat st;
	ssize_t r;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return ERR_IO;
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size > max)
			return ERR_LIMIT;
		xgrow((void **)&sb.buf, &sb.cap, (size_t)st.st_size + 1, 1);
	}
	for (;;) {
		/* Straight into the buffer, no stack copy: many tenants read
		 * side by side, each on its own thread's stack. */
		if (sb.cap < sb.len + 2)
			xgrow((void **)&sb.buf, &sb.cap, sb.len + 65536, 1);
		r = read(fd, sb.buf + sb.len, sb.cap - sb.len - 1);
		if (r > 0) {
			sb.len += (size_t)r;
			sb.buf[sb.len] = '\0';
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			sb_free(&sb);
			errno = e;
			return ERR_IO;
		}
		if (r == 0)
			break;
		if ((long long)sb.len > max) {
			sb_free(&sb);
			return ERR_LIMIT;
		}
	}
	if (sb.buf == NULL)
		sb_add(&sb, "", 0);
	*buf = sb.buf;
	*len = sb.len;
	return ERR_OK;
}

/* Closes fd unless it is standard input, keeping errno. */
static void
close_keep_errno(int fd)
{
	int e = errno;
	if (fd != STDIN_FILENO)
		close(fd);
	errno = e;
}

enum err
file_read(const char *path, long long max, char **buf, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return ERR_IO;
	enum err e = read_all(fd, max, buf, len);
	close_keep_errno(fd);
	return e;
}

#define MAP_MIN_BYTES ((off_t)1 << 20)

static const char *volatile mapped_path;

static void
on_sigbus(int sig)
{
	static const char msg[] = "iocsync: a mapped input file shrank or failed while being read: ";
	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	if (mapped_path)
		(void)!write(STDERR_FILENO, mapped_path, strlen(mapped_path));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(1);
}

enum err
file_view_open(const char *path, long long max, struct file_view *v)
{
	struct stat st;
	char *buf;
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);

	*v = (struct file_view){0};
	if (fd < 0)
		return ERR_IO;
	if (fd != STDIN_FILENO && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= MAP_MIN_BYTES &&
	    st.st_size <= max) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (m != MAP_FAILED) {
			struct sigaction sa = {.sa_handler = on_sigbus};
			sigaction(SIGBUS, &sa, NULL);
			mapped_path = path;
			close(fd);
			v->buf = m;
			v->len = (size_t)st.st_size;
			v->map = m;
			return ERR_OK;
		}
	}
	enum err e = read_all(fd, max, &buf, &v->len);
	close_keep_errno(fd);
	v->buf = buf;
	return e;
}

void
file_view_close(struct file_view *v)
{
	if (v->map) {
		munmap(v->map, v->len);
		mapped_path = NULL;
	} else {
		free((char *)v->buf);
	}
	*v = (struct file_view){0};
}

enum err
file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	/* A fresh name beside path, made with O_EXCL: a symlink or file a
	 * local user planted at a guessable name is never written through. */
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	const char *p = buf;
	int e;

	if (fd >= 0 && fchmod(fd, (mode_t)mode) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		errno = e;
		return ERR_IO;
	}
	if (fd < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return ERR_IO;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		fd = -1;
		goto fail;
	}
	free(tmp);
	return ERR_OK;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = e;
	return ERR_IO;
}

/* Opens a file that must be private: regular, ours (or root's, for a
 * systemd credential), not readable by others, at most max bytes. The
 * descriptor, or -1 with why filled. */
static int
open_private(const char *path, const char *what, size_t max, char *why, size_t whysz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat sb;
	if (fd < 0) {
		set_why(why, whysz, "%s %s: cannot open: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		set_why(why, whysz, "%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (sb.st_mode & 077) {
		set_why(why, whysz, "%s %s: readable by group or others (mode %04o); chmod 600 it", what, path,
			(unsigned)(sb.st_mode & 07777));
		close(fd);
		return -1;
	}
	/* Another user's file is another user's secret, or a plant: refused.
	 * systemd's credentials may be root's (made readable to the service). */
	bool credential = strcmp(what, "credential") == 0;
	if (sb.st_uid != geteuid() && !(credential && sb.st_uid == 0)) {
		set_why(why, whysz, "%s %s: owned by uid %u, not by the user iocsync runs as (uid %u); chown it", what,
			path, (unsigned)sb.st_uid, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	if ((size_t)sb.st_size > max) {
		set_why(why, whysz, "%s %s: larger than %zu bytes", what, path, max);
		close(fd);
		return -1;
	}
	return fd;
}

bool
file_check_private(const char *path, const char *what, size_t max, char *why, size_t whysz)
{
	int fd = open_private(path, what, max, why, whysz);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

char *
file_read_private(const char *path, const char *what, size_t max, char *why, size_t whysz)
{
	int fd = open_private(path, what, max, why, whysz);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(max + 1);
	size_t n = 0;
	ssize_t r;
	while (n < max && (r = read(fd, buf + n, max - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_why(why, whysz, "%s %s: cannot read: %s", what, path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return buf;
}

void
file_adopt_dir_owner(const char *path)
{
	if (geteuid() != 0)
		return;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	struct stat d, f;
	if (stat(dir, &d) != 0 || d.st_uid == 0 || lstat(path, &f) != 0 || f.st_uid != 0 || !S_ISREG(f.st_mode))
		return;
	if (lchown(path, d.st_uid, d.st_gid) != 0)
		fprintf(stderr, "iocsync: warning: %s: cannot give it to the owner of its directory (uid %u): %s\n",
			path, (unsigned)d.st_uid, strerror(errno));
}

size_t
fd_room(size_t reserve)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {rl.rlim_max, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)SIZE_MAX / 2)
		return SIZE_MAX / 2;
	return rl.rlim_cur > reserve ? (size_t)rl.rlim_cur - reserve : 0;
}

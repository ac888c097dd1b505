/*
 * unitfilter UNIT -- COMMAND [ARGS...]
 *
 * Runs COMMAND under the system call filter a systemd unit file declares,
 * built from the unit's own SystemCallFilter= lines as systemd builds it:
 * the first allow list sets what is allowed, a later list adds to it, a
 * list that starts with ~ takes away; @groups are expanded by
 * `systemd-analyze syscall-filter`, so they mean what this systemd means.
 * A call outside the set kills the process with SIGSYS, as the unit does
 * without SystemCallErrorNumber= (with one, the call fails with that
 * errno instead). The unit's UMask= is applied, and with DynamicUser=yes
 * (or User=) a root caller becomes an unprivileged user first
 * (UNITFILTER_UID, default 65534), as systemd runs the service: some code
 * (SQLite's journal) calls chown only as root, which @privileged refuses.
 * Exits with COMMAND's status, or 128 + the signal.
 *
 * A test tool: iocsync never runs it. "Never die under its own
 * hardening" is tested by running the real binary under the real filter.
 */
#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CALLS 4096

struct set {
	char *name[MAX_CALLS];
	size_t n;
};

static bool
has(const struct set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return true;
	return false;
}

static void
add(struct set *s, const char *name)
{
	if (!has(s, name) && s->n < MAX_CALLS)
		s->name[s->n++] = strdup(name);
}

static void
del(struct set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0) {
			free(s->name[i]);
			s->name[i] = s->name[--s->n];
			return;
		}
}

/* The system calls of a group (recursively) or the call itself, into out. */
static void
expand(const char *item, struct set *out, int depth)
{
	if (item[0] != '@') {
		add(out, item);
		return;
	}
	if (depth > 16) {
		fprintf(stderr, "unitfilter: %s: groups nest too deep\n", item);
		exit(2);
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "systemd-analyze syscall-filter '%s' 2>/dev/null", item);
	FILE *p = popen(cmd, "r");
	if (p == NULL) {
		perror("unitfilter: systemd-analyze");
		exit(2);
	}
	char line[256];
	size_t got = 0;
	while (fgets(line, sizeof(line), p)) {
		char *w = line + strspn(line, " \t");
		w[strcspn(w, " \t\r\n")] = '\0';
		if (*w == '\0' || *w == '#' || strcmp(w, item) == 0)
			continue;
		expand(w, out, depth + 1);
		got++;
	}
	if (pclose(p) != 0 || got == 0) {
		fprintf(stderr, "unitfilter: systemd-analyze does not know the group %s\n", item);
		exit(2);
	}
}

/* Applies one SystemCallFilter= value to the allowed set. */
static void
apply_line(char *v, struct set *allowed, bool *allow_list_seen)
{
	bool deny = *v == '~';
	if (deny)
		v++;
	struct set items = {0};
	for (char *tok = strtok(v, " \t"); tok; tok = strtok(NULL, " \t"))
		expand(tok, &items, 0);
	if (!deny && !*allow_list_seen)
		allowed->n = 0;
	if (!deny)
		*allow_list_seen = true;
	if (deny && !*allow_list_seen) {
		fprintf(stderr, "unitfilter: a deny list before any allow list is not what the units use\n");
		exit(2);
	}
	for (size_t i = 0; i < items.n; i++) {
		if (deny)
			del(allowed, items.name[i]);
		else
			add(allowed, items.name[i]);
		free(items.name[i]);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: unitfilter UNIT -- COMMAND [ARGS...]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) {
		perror(argv[1]);
		return 2;
	}
	struct set allowed = {0};
	bool allow_list = false;
	int errno_action = -1;
	bool other_user = false;
	long mask = -1;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "SystemCallFilter=", 17) == 0)
			apply_line(line + 17, &allowed, &allow_list);
		else if (strncmp(line, "SystemCallErrorNumber=", 22) == 0)
			errno_action = strcmp(line + 22, "EPERM") == 0 ? EPERM : ENOSYS;
		else if (strcmp(line, "DynamicUser=yes") == 0 ||
			 (strncmp(line, "User=", 5) == 0 && strcmp(line + 5, "root")))
			other_user = true;
		else if (strncmp(line, "UMask=", 6) == 0)
			mask = strtol(line + 6, NULL, 8);
	}
	fclose(f);
	if (!allow_list) {
		fprintf(stderr, "unitfilter: %s has no SystemCallFilter= allow list\n", argv[1]);
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(errno_action < 0 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(errno_action));
	size_t rules = 0;
	for (size_t i = 0; i < allowed.n; i++) {
		int nr = seccomp_syscall_resolve_name(allowed.name[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call of this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
			rules++;
	}
	if (getenv("UNITFILTER_VERBOSE"))
		fprintf(stderr, "unitfilter: %zu calls allowed by %s\n", rules, argv[1]);
	pid_t pid = fork();
	if (pid == 0) {
		if (mask >= 0)
			umask((mode_t)mask);
		if (other_user && geteuid() == 0) {
			uid_t uid = getenv("UNITFILTER_UID") ? (uid_t)atoi(getenv("UNITFILTER_UID")) : 65534;
			if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0) {
				perror("unitfilter: dropping to the unit's user");
				_exit(2);
			}
		}
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_load(ctx) != 0) {
			perror("unitfilter: seccomp_load");
			_exit(2);
		}
		execvp(argv[3], argv + 3);
		_exit(127); /* execve itself refused would have killed us */
	}
	seccomp_release(ctx);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return 2;
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "unitfilter: %s died of signal %d%s\n", argv[3], WTERMSIG(st),
			WTERMSIG(st) == SIGSYS ? " (SIGSYS: a system call the unit forbids)" : "");
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}

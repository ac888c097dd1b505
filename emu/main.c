/* mde-emulator: command line, libmicrohttpd glue, signals. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"

#define BODY_MAX ((size_t)16 << 20)      /* larger bodies: 413 */
#define THREAD_STACK ((size_t)512 << 10) /* a connection's thread */

static const char usage[] =
	"usage: mde-emulator [--config FILE] [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
	"                    [--state FILE] [--no-rate-limits] [--reading NAME=CHOICE ...]\n"
	"       mde-emulator --list-readings\n"
	"\n"
	"A local Microsoft Defender for Endpoint API (indicators, machines, the\n"
	"network protection query) with Entra ID token endpoints, for demos and tests.\n"
	"Prints \"mde-emulator: listening on URL\" when ready; stops on SIGTERM/SIGINT.\n"
	"\n"
	"  --config F       tenants' apps, machines and limits (INI; default: the demo\n"
	"                   identity below)\n"
	"  --listen A:P     address and port (default 127.0.0.1:0; port 0 picks one;\n"
	"                   [::1]:P for IPv6)\n"
	"  --tls-cert F     serve HTTPS with this PEM certificate (and --tls-key)\n"
	"  --state F        keep indicators and Intune policies in F across restarts\n"
	"  --no-rate-limits answer without MDE's per-minute and per-hour limits\n"
	"  --reading N=C    where MDE's documents are silent, behave as reading N's\n"
	"                   choice C (repeatable; after --config's [readings])\n"
	"  --list-readings  print every reading, its choices and evidence, and exit\n"
	"\n"
	"Demo identity: tenant 00000000-0000-0000-0000-000000000001, client id\n"
	"11111111-1111-1111-1111-111111111111, secret emulator-secret. See mde-emulator(1).\n";

struct conn {
	struct strbuf body;
	bool too_large;
};

/*
 * Requests go to the emulator's one lock in the order they came, at most
 * GATE_WIDTH at a time past this gate (parsing their bodies outside the
 * lock meanwhile); the others wait unparsed. MDE's tenants do not wait on
 * each other: served in turn, a tenant's next call queues behind the
 * calls already waiting, instead of whichever a busy thread picked up
 * first (with a pool of four threads, a thousand tenants' first imports
 * were done anywhere from 1 s to 40 s in, each starting its one-minute
 * window that late). A light request (a token, a listing, a delete: a
 * body under GATE_HEAVY) goes before the heavy ones waiting (imports of
 * hundreds), as it would not wait on another tenant's import at MDE.
 */
#define GATE_WIDTH 3
#define GATE_HEAVY ((size_t)16384)

struct gate_waiter {
	pthread_cond_t go;
	bool admitted;
	struct gate_waiter *next;
};

struct gate_queue {
	struct gate_waiter *head, **tail;
};

static struct {
	pthread_mutex_t mu;
	unsigned inside;
	struct gate_queue q[2]; /* light, heavy */
} gate = {PTHREAD_MUTEX_INITIALIZER, 0, {{NULL, &gate.q[0].head}, {NULL, &gate.q[1].head}}};

static void
gate_enter(bool heavy)
{
	pthread_mutex_lock(&gate.mu);
	if (gate.inside < GATE_WIDTH && gate.q[0].head == NULL && gate.q[1].head == NULL) {
		gate.inside++;
	} else {
		struct gate_queue *q = &gate.q[heavy];
		struct gate_waiter w = {.admitted = false};
		pthread_cond_init(&w.go, NULL);
		*q->tail = &w;
		q->tail = &w.next;
		while (!w.admitted)
			pthread_cond_wait(&w.go, &gate.mu);
		pthread_cond_destroy(&w.go);
	}
	pthread_mutex_unlock(&gate.mu);
}

/* The place goes to the first light request waiting, else the first
 * heavy one, if any. */
static void
gate_leave(void)
{
	pthread_mutex_lock(&gate.mu);
	struct gate_queue *q = gate.q[0].head ? &gate.q[0] : &gate.q[1];
	struct gate_waiter *w = q->head;
	if (w) {
		q->head = w->next;
		if (q->head == NULL)
			q->tail = &q->head;
		w->admitted = true;
		pthread_cond_signal(&w->go);
	} else {
		gate.inside--;
	}
	pthread_mutex_unlock(&gate.mu);
}

static enum MHD_Result
add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct strbuf *sb = cls;
	(void)kind;
	sb_addf(sb, "%s%s%s%s", sb->len ? "&" : "", key, value ? "=" : "", value ? value : "");
	return MHD_YES;
}

/* A truncated answer: announces the whole length, sends half, fails. */
struct half {
	char *text;
	size_t len;
};

static ssize_t
half_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct half *h = cls;
	if (pos >= h->len / 2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = h->len / 2 - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, h->text + pos, n);
	return (ssize_t)n;
}

static void
half_free(void *cls)
{
	struct half *h = cls;
	free(h->text);
	free(h);
}

static enum MHD_Result
send_reply(struct MHD_Connection *c, struct reply *r)
{
	char *text = r->raw_empty ? NULL : r->text ? r->text : r->body ? json_dumps(r->body, JSON_COMPACT) : NULL;
	bool has_body = !r->raw_empty && (r->body || r->text);
	r->text = NULL;
	if (r->fault == FAULT_RESET) { /* close without a word */
		free(text);
		reply_free(r);
		return MHD_NO;
	}
	if (r->fault == FAULT_SLOW)
		usleep(r->slow_ms * 1000u); /* one pool thread waits; the others serve */
	struct MHD_Response *resp;
	if (r->fault == FAULT_TRUNCATE && text && strlen(text) >= 2) {
		struct half *h = xmalloc(sizeof(*h));
		*h = (struct half){text, strlen(text)};
		resp = MHD_create_response_from_callback(h->len, 4096, half_read, h, half_free);
	} else {
		resp = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (void *)"",
						       text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	}
	if (has_body) {
		MHD_add_response_header(
			resp, "Content-Type",
			r->odata ? "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
				 : "application/json; charset=utf-8");
	}
	if (r->odata)
		MHD_add_response_header(resp, "OData-Version", "4.0");
	if (r->retry_after[0])
		MHD_add_response_header(resp, "Retry-After", r->retry_after);
	if (r->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", r->www_authenticate);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	reply_free(r);
	return rc;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
	   const char *data, size_t *size, void **state)
{
	struct emu *e = cls;
	struct conn *k = *state;
	(void)version;

	if (k == NULL) {
		k = xcalloc(1, sizeof(*k));
		*state = k;
		/* The body's buffer at its announced size, not grown chunk by
		 * chunk (an import of 500 is about 200 KB). */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		long long len;
		if (cl && num_parse(cl, 1, BODY_MAX, &len, NULL) == ERR_OK)
			sb_reserve(&k->body, (size_t)len);
		return MHD_YES;
	}
	if (*size > 0) {
		if (k->body.len + *size > BODY_MAX)
			k->too_large = true;
		else
			sb_add(&k->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	struct reply r = {0};
	if (k->too_large) {
		reply_error(&r, 413, "RequestEntityTooLarge", "The request body is larger than %zu bytes", BODY_MAX);
		return send_reply(c, &r);
	}
	struct request q = {
		.method = method,
		.path = url,
		.full_path = url,
		.body = k->body.buf,
		.body_len = k->body.len,
		.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
		.metadata = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata"),
		.conn = c,
	};
	/* The query as the log shows it: arguments decoded, in their order. */
	struct strbuf qs = {0};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &qs);
	q.query = qs.buf;
	/* A JSON body is parsed here, outside the emulator's one lock: an
	 * import of 500 items is most of a request's work, and a provider's
	 * test sends thousands at once. A body that does not parse is left
	 * to the handler, which says why. */
	gate_enter(q.body_len >= GATE_HEAVY);
	if (q.body_len && q.content_type && strncasecmp(q.content_type, "application/json", 16) == 0)
		q.json = json_loadb(q.body, q.body_len, JSON_REJECT_DUPLICATES, NULL);
	emu_handle(e, &q, &r);
	gate_leave();
	json_decref(q.json);
	sb_free(&qs);
	return send_reply(c, &r);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	struct conn *k = *state;
	(void)cls, (void)c, (void)why;
	if (k) {
		sb_free(&k->body);
		free(k);
	}
	*state = NULL;
}

static bool
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	long long port;
	if (colon == NULL || (size_t)(colon - s) >= sizeof(host) ||
	    num_parse(colon + 1, 0, 65535, &port, NULL) != ERR_OK)
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[strlen(host) - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* The command line. */
struct args {
	const char **readings; /* --reading NAME=CHOICE, in order */
	size_t nreadings;
	bool list_readings, no_rl;
	const char *listen, *cert, *key, *state, *config;
};

/* -1 to go on, else the exit status (help, version, a usage error). */
static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'C'},
		{"listen", required_argument, NULL, 'l'},
		{"tls-cert", required_argument, NULL, 'c'},
		{"tls-key", required_argument, NULL, 'k'},
		{"state", required_argument, NULL, 's'},
		{"no-rate-limits", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"reading", required_argument, NULL, 'r'},
		{"list-readings", no_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	*a = (struct args){.readings = xcalloc((size_t)argc + 1, sizeof(*a->readings)), .listen = "127.0.0.1:0"};
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C': a->config = optarg; break;
		case 'l': a->listen = optarg; break;
		case 'c': a->cert = optarg; break;
		case 'k': a->key = optarg; break;
		case 's': a->state = optarg; break;
		case 'n': a->no_rl = true; break;
		case 'r': a->readings[a->nreadings++] = optarg; break;
		case 'L': a->list_readings = true; break;
		case 'V': printf("mde-emulator %s\n", IOCSYNC_VERSION); return 0;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!a->list_readings && (optind != argc || (a->cert == NULL) != (a->key == NULL))) {
		fputs(usage, stderr);
		return 2;
	}
	return -1;
}

/* The readings of the command line onto e; false with the error said. */
static bool
set_readings(struct emu *e, const struct args *a)
{
	char why[512];
	for (size_t i = 0; i < a->nreadings; i++)
		if (!reading_set_arg(e, a->readings[i], why, sizeof(why))) {
			fprintf(stderr, "mde-emulator: %s\n", why);
			return false;
		}
	return true;
}

/* The emulator as the command line makes it: the configuration (or the
 * demo tenant), the readings, the rate limits, the saved state. NULL
 * with the error said and *rc set. */
static struct emu *
make(const struct args *a, int *rc)
{
	char why[512];
	struct emu *e = emu_new();
	*rc = 2;
	if (a->config && !emu_config_load(e, a->config, why, sizeof(why))) {
		fprintf(stderr, "mde-emulator: %s\n", why);
		emu_free(e);
		return NULL;
	}
	if (a->config == NULL)
		emu_demo(e);
	if (!set_readings(e, a)) {
		emu_free(e);
		return NULL;
	}
	memcpy(e->reading_start, e->reading, sizeof(e->reading)); /* what /_emulator/reset returns to */
	if (a->no_rl)
		e->rate_limits = false;
	if (a->state) {
		e->state_path = xstrdup(a->state);
		FILE *f = fopen(a->state, "r");
		if (f) {
			fclose(f);
			if (!emu_state_load(e, a->state, why, sizeof(why))) {
				fprintf(stderr, "mde-emulator: --state %s\n", why);
				*rc = 1;
				emu_free(e);
				return NULL;
			}
		}
	}
	return e;
}

/* Serves e on ss until SIGTERM or SIGINT. */
static int
serve(struct emu *e, const struct args *a, const struct sockaddr_storage *ss, const char *cert_pem, const char *key_pem)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* MHD's threads inherit it */
	signal(SIGPIPE, SIG_IGN);

	/* A thread for each connection: a slow answer (fault) holds its own,
	 * and every request's body is read as it comes, to wait its turn at
	 * the gate (the client is not left holding it). Its stack is small:
	 * a provider's test keeps a thousand connections. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
		(ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (cert_pem ? MHD_USE_TLS : 0);
	/* Without a certificate the list ends before the TLS options. */
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR, ss, MHD_OPTION_CONNECTION_TIMEOUT, 15u,
		MHD_OPTION_CONNECTION_LIMIT, 1100u, MHD_OPTION_THREAD_STACK_SIZE, THREAD_STACK,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
		cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
		MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mde-emulator: cannot listen on %s\n", a->listen);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[128];
	snprintf(host, sizeof(host), "%.*s", (int)(strrchr(a->listen, ':') - a->listen), a->listen);
	pthread_mutex_lock(&e->mu);
	free(e->base);
	e->base = xasprintf("%s://%s:%u", cert_pem ? "https" : "http", host, info ? info->port : 0);
	pthread_mutex_unlock(&e->mu);
	printf("mde-emulator: listening on %s\n", e->base);
	fflush(stdout);
	int sig;
	sigwait(&sigs, &sig);
	MHD_stop_daemon(d);
	fprintf(stderr, "mde-emulator: stopped (%s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a;
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0) {
		free(a.readings);
		return rc;
	}
	if (a.list_readings) {
		struct emu *le = emu_new();
		rc = set_readings(le, &a) ? 0 : 2;
		if (rc == 0)
			readings_print(le, stdout);
		emu_free(le);
		free(a.readings);
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	char *cert_pem = NULL, *key_pem = NULL;
	size_t n;
	struct emu *e = NULL;
	if (!parse_listen(a.listen, &ss, &sl)) {
		fprintf(stderr, "mde-emulator: --listen %s: ADDR:PORT expected (127.0.0.1:8443, [::1]:0)\n", a.listen);
		rc = 2;
	} else if (a.cert &&
		   (file_read(a.cert, 1 << 20, &cert_pem, &n) != ERR_OK ||
		    file_read(a.key, 1 << 20, &key_pem, &n) != ERR_OK)) {
		fprintf(stderr, "mde-emulator: cannot read the TLS certificate or key: %s\n", strerror(errno));
		rc = 1;
	} else if ((e = make(&a, &rc)) != NULL) {
		rc = serve(e, &a, &ss, cert_pem, key_pem);
	}
	emu_free(e);
	free(cert_pem), free(key_pem), free(a.readings);
	return rc;
}

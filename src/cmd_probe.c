/* iocsync probe: the field test built in. From a device under a block
 * indicator, does TCP get through, does UDP? And the receiving end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "signals.h"

static const char usage[] =
	"usage: iocsync probe HOST PORT [--tcp | --udp | --both] [--timeout S] [--count N]\n"
	"                     [--payload TEXT]\n"
	"       iocsync probe --listen PORT [--tcp | --udp | --both] [--count N]\n"
	"\n"
	"Tries HOST PORT over TCP (connect, send the payload, wait for an answer)\n"
	"and UDP (send the payload, wait for an answer), COUNT times each (1), and\n"
	"says per try: connected, refused, reset, timed out, sent, answered, with\n"
	"a reading in plain words. Defender's network protection blocks TCP to an\n"
	"address under a block indicator (a reset right after connect) but not\n"
	"UDP: probe both, with probe --listen on the far end to see what arrives.\n"
	"IPv4 and IPv6. --timeout is per try (3 s).\n"
	"--listen PORT receives on every address (TCP and UDP by default), prints\n"
	"each connection or datagram with its sender and payload, and answers\n"
	"\"iocsync probe ack\"; it stops after --count N messages, or on Ctrl-C.\n"
	"Exit status: 0 every try got through (TCP connected, UDP answered), 1 one\n"
	"did not (refused, reset, timed out, no answer), 2 usage or HOST unknown.\n";

#define ACK "iocsync probe ack\n"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
addr_str(const struct sockaddr *sa, char *buf, size_t sz)
{
	char h[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		port = ntohs(a->sin_port);
		snprintf(buf, sz, "%s:%u", h, port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
		port = ntohs(a->sin6_port);
		snprintf(buf, sz, "[%s]:%u", h, port);
	}
}

/* Prints a payload as text, with what is not printable escaped. */
static void
print_payload(const char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"%s", n > 200 ? "..." : "");
}

/* Waits for fd to be ready for ev; 1 ready, 0 timed out. */
static int
wait_fd(int fd, short ev, double until)
{
	for (;;) {
		double left = until - now_s();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = ev};
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return 1;
	}
}

/* One TCP try. Returns 0 got through, 1 not. */
static int
tcp_try(const struct addrinfo *ai, const char *payload, double timeout)
{
	char peer[80];
	addr_str(ai->ai_addr, peer, sizeof(peer));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		printf("tcp %s: cannot make a socket: %s\n", peer, strerror(errno));
		return 1;
	}
	double t0 = now_s(), until = t0 + timeout;
	int rc = 1, e = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		e = errno;
	else if (!wait_fd(fd, POLLOUT, until))
		e = ETIMEDOUT;
	else {
		socklen_t l = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
	}
	if (e == ETIMEDOUT) {
		printf("tcp %s: timed out after %.1f s: nothing answered the handshake (dropped on the way, or a "
		       "filtering firewall)\n",
		       peer, timeout);
	} else if (e == ECONNREFUSED) {
		printf("tcp %s: refused in %.0f ms: the host answered, but nothing listens on that port\n", peer,
		       (now_s() - t0) * 1000);
	} else if (e) {
		printf("tcp %s: %s\n", peer, strerror(e));
	} else {
		double tc = now_s() - t0;
		ssize_t s = send(fd, payload, strlen(payload), MSG_NOSIGNAL);
		char buf[512];
		ssize_t n = -1;
		int re = 0;
		if (s < 0)
			re = errno;
		else if (wait_fd(fd, POLLIN, until) && (n = recv(fd, buf, sizeof(buf), 0)) < 0)
			re = errno;
		if (re == ECONNRESET || re == EPIPE) {
			printf("tcp %s: connected in %.0f ms, then reset: this is what network protection does to an "
			       "address under a block indicator\n",
			       peer, tc * 1000);
		} else if (re) {
			printf("tcp %s: connected in %.0f ms, then %s\n", peer, tc * 1000, strerror(re));
		} else if (n > 0) {
			printf("tcp %s: connected in %.0f ms, sent %zd bytes, answered with %zd bytes: ", peer,
			       tc * 1000, s, n);
			print_payload(buf, (size_t)n);
			printf(": TCP gets through\n");
			rc = 0;
		} else if (n == 0) {
			printf("tcp %s: connected in %.0f ms, sent %zd bytes, closed by the other end without an "
			       "answer: TCP gets through\n",
			       peer, tc * 1000, s);
			rc = 0;
		} else {
			printf("tcp %s: connected in %.0f ms, sent %zd bytes, no answer within %.1f s: TCP gets through "
			       "(the service said nothing)\n",
			       peer, tc * 1000, s, timeout);
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

/* One UDP try. Returns 0 answered, 1 not. */
static int
udp_try(const struct addrinfo *ai, const char *payload, double timeout)
{
	char peer[80];
	addr_str(ai->ai_addr, peer, sizeof(peer));
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		printf("udp %s: %s\n", peer, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	double t0 = now_s();
	ssize_t s = send(fd, payload, strlen(payload), 0);
	int rc = 1;
	if (s < 0) {
		printf("udp %s: not sent: %s\n", peer, strerror(errno));
	} else {
		char buf[512];
		ssize_t n = -1;
		int e = 0;
		if (wait_fd(fd, POLLIN, t0 + timeout) && (n = recv(fd, buf, sizeof(buf), 0)) < 0)
			e = errno;
		if (n > 0) {
			printf("udp %s: sent %zd bytes, answered in %.0f ms with %zd bytes: ", peer, s,
			       (now_s() - t0) * 1000, n);
			print_payload(buf, (size_t)n);
			printf(": UDP gets through\n");
			rc = 0;
		} else if (e == ECONNREFUSED) {
			printf("udp %s: sent %zd bytes, refused (ICMP port unreachable): the host is reached, nothing "
			       "listens on that port\n",
			       peer, s);
		} else if (e) {
			printf("udp %s: sent %zd bytes, then %s\n", peer, s, strerror(e));
		} else {
			printf("udp %s: sent %zd bytes, no answer within %.1f s: UDP has no handshake, so this does not "
			       "say it was blocked; run iocsync probe --listen on the far end to see whether it "
			       "arrived (network protection does not block UDP)\n",
			       peer, s, timeout);
		}
	}
	close(fd);
	return rc;
}

static int
listen_loop(const char *port, bool tcp, bool udp, long long count)
{
	struct addrinfo hints = {.ai_family = AF_INET6, .ai_flags = AI_PASSIVE}, *ai;
	int fds[2] = {-1, -1}, nf = 0;
	for (int k = 0; k < 2; k++) {
		if ((k == 0 && !tcp) || (k == 1 && !udp))
			continue;
		hints.ai_socktype = k == 0 ? SOCK_STREAM : SOCK_DGRAM;
		if (getaddrinfo(NULL, port, &hints, &ai) != 0) {
			fprintf(stderr, "iocsync probe: --listen %s: not a port\n", port);
			return EXIT_USAGE;
		}
		int fd = socket(AF_INET6, hints.ai_socktype | SOCK_CLOEXEC, 0), off = 0, on = 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)); /* IPv4 too */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (k == 0 && listen(fd, 16) != 0)) {
			fprintf(stderr, "iocsync probe: --listen %s/%s: %s\n", port, k ? "udp" : "tcp",
				strerror(errno));
			freeaddrinfo(ai);
			return EXIT_FAIL;
		}
		freeaddrinfo(ai);
		fds[nf++] = fd;
		printf("listening on %s port %s (IPv4 and IPv6)\n", k ? "udp" : "tcp", port);
	}
	fflush(stdout);
	signals_install(false);
	long long seen = 0;
	while (!signals_stop_requested() && (count == 0 || seen < count)) {
		struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
		if (poll(p, (nfds_t)nf, 500) <= 0)
			continue;
		for (int i = 0; i < nf; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			char buf[2048], who[80];
			int st = 0;
			socklen_t sl = sizeof(st);
			getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &st, &sl);
			if (st == SOCK_DGRAM) {
				ssize_t n = recvfrom(fds[i], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
				if (n < 0)
					continue;
				addr_str((struct sockaddr *)&from, who, sizeof(who));
				printf("udp from %s: %zd bytes: ", who, n);
				print_payload(buf, (size_t)n);
				putchar('\n');
				sendto(fds[i], ACK, strlen(ACK), 0, (struct sockaddr *)&from, fl);
			} else {
				int c = accept4(fds[i], (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				addr_str((struct sockaddr *)&from, who, sizeof(who));
				struct timeval tv = {.tv_sec = 3};
				setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				ssize_t n = recv(c, buf, sizeof(buf), 0);
				printf("tcp from %s: connected, ", who);
				if (n > 0) {
					printf("%zd bytes: ", n);
					print_payload(buf, (size_t)n);
				} else {
					printf("no data");
				}
				putchar('\n');
				send(c, ACK, strlen(ACK), MSG_NOSIGNAL);
				close(c);
			}
			fflush(stdout);
			seen++;
		}
	}
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	return EXIT_OK;
}

int
cmd_probe(struct app *a, int argc, char **argv)
{
	(void)a;
	static const struct option longopts[] = {
		{"tcp", no_argument, NULL, 't'},
		{"udp", no_argument, NULL, 'u'},
		{"both", no_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 'T'},
		{"count", required_argument, NULL, 'n'},
		{"payload", required_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool tcp = false, udp = false;
	long long timeout_ms = 3000, count = 1;
	const char *payload = "iocsync probe\n", *listen_port = NULL, *why;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': tcp = true; break;
		case 'u': udp = true; break;
		case 'b': tcp = udp = true; break;
		case 'T': {
			long long s;
			if (duration_parse(optarg, &s, &why) != ERR_OK || s < 1 || s > 600) {
				/* plain seconds with a fraction: 0.5 */
				char *end;
				double d = strtod(optarg, &end);
				if (*end || d < 0.05 || d > 600) {
					fprintf(stderr, "iocsync probe: --timeout %s: seconds from 0.05 to 600\n",
						optarg);
					return EXIT_USAGE;
				}
				timeout_ms = (long long)(d * 1000);
			} else {
				timeout_ms = s * 1000;
			}
			break;
		}
		case 'n':
			if (num_parse(optarg, 0, 100000, &count, &why) != ERR_OK) {
				fprintf(stderr, "iocsync probe: --count %s: %s\n", optarg, why);
				return EXIT_USAGE;
			}
			break;
		case 'p': payload = optarg; break;
		case 'l': listen_port = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (!tcp && !udp)
		tcp = udp = true;
	if (listen_port) {
		if (optind != argc) {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
		return listen_loop(listen_port, tcp, udp, count);
	}
	if (argc - optind != 2 || count < 1) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *host = argv[optind], *port = argv[optind + 1];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int e = getaddrinfo(host, port, &hints, &res);
	if (e != 0) {
		fprintf(stderr, "iocsync probe: %s port %s: %s\n", host, port, gai_strerror(e));
		return EXIT_USAGE;
	}
	int bad = 0;
	for (long long i = 0; i < count; i++) {
		if (tcp)
			bad |= tcp_try(res, payload, (double)timeout_ms / 1000);
		if (udp)
			bad |= udp_try(res, payload, (double)timeout_ms / 1000);
	}
	freeaddrinfo(res);
	return bad ? EXIT_FAIL : EXIT_OK;
}

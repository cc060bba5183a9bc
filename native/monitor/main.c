/* berth-monitor: see monitor.h. Started by berthd (detached, its own session) as
 *   berth-monitor --dir DIR --log PATH [--log-max-size BYTES --log-max-file N]
 *                 [--tty --console-sock PATH] [--stdin] [--stdin-once]
 *                 --attach PATH --ctl PATH --exit PATH [--sync-fd N] -- COMMAND ARGS...
 * COMMAND (berth-init) runs as its child with the container's stdio and fds 3..N inherited.
 * One thread, one poll loop; it exits once the container's init has exited and is recorded. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_ATTACH 32
#define MAX_CTL 16
#define MAX_PENDING (1 << 20) /* an attach client this far behind is dropped */

struct opts {
	const char *dir, *log, *console, *attach, *ctl, *exit;
	long long max_size;
	int max_file, tty, stdin_open, stdin_once, sync_fd;
	char **argv;
} o = { .max_size = -1, .max_file = 1, .sync_fd = -1 };

struct stream {
	int fd;             /* read end (or the pty master for stdout in tty mode) */
	const char *name;   /* "stdout" / "stderr" in the log */
	unsigned char kind; /* stdcopy stream byte */
	char buf[LINE_MAX_BYTES];
	size_t n;
	int in_partial;       /* a long line is being logged in pieces */
	struct timespec pts;  /* docker gives every piece of a long line the first piece's time */
};

struct client {
	int fd;
	int reading; /* 0 once it half-closed */
	char *pend;
	size_t plen, pcap;
};

struct ctl {
	int fd;
	char line[128];
	size_t n;
};

/* set up in main: initialised here, their buffers would sit in .data and cost resident pages */
static struct stream out, err;
static struct jlog jl = { .fd = -1 };
static struct client att[MAX_ATTACH];
static int natt;
static struct ctl ctls[MAX_CTL];
static int nctl;
static int attach_lfd = -1, ctl_lfd = -1, console_lfd = -1, console_cfd = -1, sigfd = -1;
static int stdin_fd = -1; /* write end of the container's stdin (the master in tty mode) */
static char stdin_pend[4096];
static size_t stdin_plen;
static struct winsize pending_ws;
static int have_ws;
static int hung_up; /* berthd's client went: no more input, and a tty is hung up */

/* exits reaped before berthd said which pid is the init: the init may die first */
#define NREAPED 64
static struct { pid_t pid; int status; } reaped[NREAPED];
static int nreaped;
static pid_t init_pid;
static int init_status, done;
static struct timespec finished;

static void fatal(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fatal(int e, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* on the sync socket in berth-init's own words, so the runtime reports it as a create error */
	if (o.sync_fd >= 0) {
		dprintf(o.sync_fd, "error\tmonitor\t%d\t%s%s%s\n", e, msg, e ? ": " : "", e ? strerror(e) : "");
		/* the runtime may still be writing its plan: exiting now would fail its write, and Node
		 * drops a socket's unread data on a write error. Swallow the plan until it lets go. */
		shutdown(o.sync_fd, SHUT_WR);
		char sink[4096];
		struct pollfd p = { .fd = o.sync_fd, .events = POLLIN };
		while (poll(&p, 1, 5000) > 0 && read(o.sync_fd, sink, sizeof(sink)) > 0)
			;
	}
	dprintf(2, "berth-monitor: %s%s%s\n", msg, e ? ": " : "", e ? strerror(e) : "");
	_exit(127);
}

static void usage(const char *why)
{
	fatal(0, "%s (usage: berth-monitor --dir DIR --log PATH [--log-max-size BYTES] [--log-max-file N] "
		 "[--tty --console-sock PATH] [--stdin] [--stdin-once] --attach PATH --ctl PATH --exit PATH "
		 "[--sync-fd N] -- COMMAND ARGS...)", why);
}

static long long number(const char *flag, const char *v, long long min)
{
	char *end;
	errno = 0;
	long long n = strtoll(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || n < min)
		fatal(0, "%s: \"%s\" is not a number >= %lld", flag, v ? v : "", min);
	return n;
}

static void parse(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL(field) do { if (!v) usage(a); field = v; i++; } while (0)
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--dir")) VAL(o.dir);
		else if (!strcmp(a, "--log")) VAL(o.log);
		else if (!strcmp(a, "--console-sock")) VAL(o.console);
		else if (!strcmp(a, "--attach")) VAL(o.attach);
		else if (!strcmp(a, "--ctl")) VAL(o.ctl);
		else if (!strcmp(a, "--exit")) VAL(o.exit);
		else if (!strcmp(a, "--log-max-size")) { o.max_size = number(a, v, 1); i++; }
		else if (!strcmp(a, "--log-max-file")) { o.max_file = (int)number(a, v, 1); i++; }
		else if (!strcmp(a, "--sync-fd")) { o.sync_fd = (int)number(a, v, 3); i++; }
		else if (!strcmp(a, "--tty")) o.tty = 1;
		else if (!strcmp(a, "--stdin")) o.stdin_open = 1;
		else if (!strcmp(a, "--stdin-once")) o.stdin_once = 1;
		else {
			char m[256];
			snprintf(m, sizeof(m), "unknown flag \"%.100s\"", a);
			usage(m);
		}
#undef VAL
	}
	if (i >= argc)
		usage("no command after --");
	o.argv = argv + i;
	if (!o.dir || !o.log || !o.attach || !o.ctl || !o.exit)
		usage("--dir, --log, --attach, --ctl and --exit are required");
	if (o.tty != !!o.console)
		usage("--tty and --console-sock go together");
	if (o.max_file > 1 && o.max_size < 0)
		usage("--log-max-file needs --log-max-size");
}

/* The socket gets its name only once it listens (bound under a temporary name, then renamed):
 * whoever finds the path can connect, and a path that refuses means a dead monitor. */
static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) + 4 >= sizeof(sa.sun_path))
		fatal(ENAMETOOLONG, "socket %s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.new", path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		fatal(errno, "socket %s", path);
	mode_t old = umask(077); /* root's only */
	if (unlink(sa.sun_path) < 0 && errno != ENOENT)
		fatal(errno, "removing the old socket %s", sa.sun_path);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0 || rename(sa.sun_path, path) < 0)
		fatal(errno, "listening on %s", path);
	umask(old);
	return s;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- attach clients ---- */

static void drop_client(int i)
{
	close(att[i].fd);
	free(att[i].pend);
	att[i] = att[--natt];
}

static int client_flush(struct client *c)
{
	while (c->plen > 0) {
		ssize_t w = write(c->fd, c->pend, c->plen);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w <= 0)
			return -1;
		memmove(c->pend, c->pend + w, c->plen - (size_t)w);
		c->plen -= (size_t)w;
	}
	if (c->pcap > 65536) {
		/* a burst is over: give the memory back */
		free(c->pend);
		c->pend = NULL;
		c->pcap = 0;
	}
	return 0;
}

static int client_queue(struct client *c, const char *b, size_t n)
{
	if (c->plen + n > MAX_PENDING)
		return -1;
	if (c->plen + n > c->pcap) {
		size_t cap = c->pcap ? c->pcap : 4096;
		while (cap < c->plen + n)
			cap *= 2;
		char *p = realloc(c->pend, cap);
		if (!p)
			return -1;
		c->pend = p;
		c->pcap = cap;
	}
	memcpy(c->pend + c->plen, b, n);
	c->plen += n;
	return 0;
}

/* hands bytes to one client: straight to the socket while it keeps up, queued otherwise */
static int client_send(struct client *c, const char *hdr, size_t hlen, const char *b, size_t n)
{
	if (c->plen == 0) {
		struct iovec iov[2] = { { (void *)hdr, hlen }, { (void *)b, n } };
		ssize_t w;
		do
			w = writev(c->fd, hlen ? iov : iov + 1, hlen ? 2 : 1);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return -1;
		size_t done_ = w < 0 ? 0 : (size_t)w;
		if (done_ < hlen) {
			if (client_queue(c, hdr + done_, hlen - done_) < 0)
				return -1;
			done_ = 0;
		} else
			done_ -= hlen;
		return done_ < n ? client_queue(c, b + done_, n - done_) : 0;
	}
	if (hlen && client_queue(c, hdr, hlen) < 0)
		return -1;
	return client_queue(c, b, n);
}

static void broadcast(unsigned char kind, const char *b, size_t n)
{
	char hdr[8] = { (char)kind, 0, 0, 0, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n };
	for (int i = 0; i < natt;) {
		if (client_send(&att[i], hdr, o.tty ? 0 : 8, b, n) < 0)
			drop_client(i);
		else
			i++;
	}
}

/* ---- container stdin ---- */

static void close_stdin(void)
{
	if (stdin_fd >= 0 && !o.tty) {
		close(stdin_fd);
		stdin_fd = -1;
		stdin_plen = 0;
	}
}

static void stdin_flush(void)
{
	while (stdin_fd >= 0 && stdin_plen > 0) {
		ssize_t w = write(stdin_fd, stdin_pend, stdin_plen);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			/* the container closed its stdin: what clients type now goes nowhere */
			stdin_plen = 0;
			return;
		}
		memmove(stdin_pend, stdin_pend + w, stdin_plen - (size_t)w);
		stdin_plen -= (size_t)w;
	}
}

static void client_read(int i)
{
	struct client *c = &att[i];
	ssize_t n = read(c->fd, stdin_pend + stdin_plen, sizeof(stdin_pend) - stdin_plen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->reading = 0;
		if (o.stdin_once)
			close_stdin();
		return;
	}
	if (stdin_fd < 0)
		return; /* no stdin (or closed): drop what the client typed */
	stdin_plen += (size_t)n;
	stdin_flush();
}

/* ---- output: log + attach ---- */

static void emit(struct stream *s, const char *b, size_t n, int complete)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (complete) {
		jlog_write(&jl, s->name, b, n, 1, s->in_partial ? &s->pts : &now);
		s->in_partial = 0;
	} else {
		if (!s->in_partial) {
			s->pts = now;
			s->in_partial = 1;
		}
		jlog_write(&jl, s->name, b, n, 0, &s->pts);
	}
}

/* docker's copier: a log entry per line; a 16 KiB run with no newline, or what is left at EOF, as a piece */
static void split_lines(struct stream *s, int eof)
{
	size_t p = 0;
	char *nl;
	while ((nl = memchr(s->buf + p, '\n', s->n - p))) {
		emit(s, s->buf + p, (size_t)(nl - (s->buf + p)), 1);
		p = (size_t)(nl - s->buf) + 1;
	}
	if ((eof || (p == 0 && s->n == sizeof(s->buf))) && p < s->n) {
		emit(s, s->buf + p, s->n - p, 0);
		p = s->n;
	}
	memmove(s->buf, s->buf + p, s->n - p);
	s->n -= p;
}

/* returns 0 while the stream may give more */
static int stream_read(struct stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->n, sizeof(s->buf) - s->n);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n <= 0) {
		/* EOF, or EIO from a pty master whose last slave closed */
		split_lines(s, 1);
		close(s->fd);
		if (o.tty && s->fd == stdin_fd)
			stdin_fd = -1;
		s->fd = -1;
		return 1;
	}
	broadcast(s->kind, s->buf + s->n, (size_t)n);
	s->n += (size_t)n;
	split_lines(s, 0);
	return 0;
}

/* ---- console socket (tty): berth-init's init sends the pty master ---- */

static void console_recv(void)
{
	char name[64], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { name, sizeof(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(console_cfd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		nonblock(fd);
		if (hung_up) {
			/* the client went before the pty came: the process starts hung up */
			close(fd);
			fd = -1;
		}
		out.fd = fd;
		/* without --stdin (docker's -t without -i) what clients type goes nowhere */
		if (o.stdin_open)
			stdin_fd = fd;
		if (have_ws && fd >= 0)
			ioctl(fd, TIOCSWINSZ, &pending_ws);
	}
	close(console_cfd);
	console_cfd = -1;
	/* one pty per container: nobody else may connect */
	close(console_lfd);
	console_lfd = -1;
	unlink(o.console);
}

/* ---- control socket ---- */

static void record_exit(pid_t pid, int status)
{
	if (init_pid && pid == init_pid) {
		init_status = status;
		clock_gettime(CLOCK_REALTIME, &finished);
		done = 1;
		return;
	}
	if (nreaped == NREAPED)
		memmove(reaped, reaped + 1, sizeof(reaped[0]) * (NREAPED - 1)), nreaped--;
	reaped[nreaped].pid = pid;
	reaped[nreaped].status = status;
	nreaped++;
}

static void ctl_line(char *l)
{
	if (!strncmp(l, "pid ", 4)) {
		long pid = strtol(l + 4, NULL, 10);
		if (pid <= 0 || init_pid)
			return;
		init_pid = (pid_t)pid;
		for (int i = 0; i < nreaped; i++)
			if (reaped[i].pid == init_pid)
				record_exit(init_pid, reaped[i].status);
	} else if (!strncmp(l, "resize ", 7)) {
		char *end;
		unsigned long rows = strtoul(l + 7, &end, 10), cols = strtoul(end, &end, 10);
		if (*end || rows > 0xffff || cols > 0xffff)
			return;
		pending_ws.ws_row = (unsigned short)rows;
		pending_ws.ws_col = (unsigned short)cols;
		have_ws = 1;
		if (o.tty && out.fd >= 0)
			ioctl(out.fd, TIOCSWINSZ, &pending_ws);
	} else if (!strcmp(l, "close-stdin")) {
		close_stdin();
	} else if (!strcmp(l, "hangup")) {
		/* closing the only master hangs the terminal up: the kernel sends SIGHUP to the
		 * process's session; with pipes the process sees EOF on its stdin */
		hung_up = 1;
		if (o.tty && out.fd >= 0) {
			close(out.fd);
			out.fd = -1;
			stdin_fd = -1;
			stdin_plen = 0;
		} else
			close_stdin();
	}
}

static void ctl_read(int i)
{
	struct ctl *c = &ctls[i];
	ssize_t n = read(c->fd, c->line + c->n, sizeof(c->line) - 1 - c->n);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(c->fd);
		ctls[i] = ctls[--nctl];
		return;
	}
	c->n += (size_t)n;
	char *nl;
	while ((nl = memchr(c->line, '\n', c->n))) {
		*nl = 0;
		ctl_line(c->line);
		size_t used = (size_t)(nl - c->line) + 1;
		memmove(c->line, c->line + used, c->n - used);
		c->n -= used;
	}
	if (c->n == sizeof(c->line) - 1) {
		close(c->fd); /* not our protocol */
		ctls[i] = ctls[--nctl];
	}
}

/* ---- children ---- */

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof(si)) > 0)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			record_exit(p, st);
			continue;
		}
		if (p < 0 && errno == ECHILD && !done) {
			/* nobody left and nobody named the init: the last process we reaped was it (or the
			 * helper that failed before making one) */
			if (nreaped > 0)
				init_pid = reaped[nreaped - 1].pid, init_status = reaped[nreaped - 1].status;
			clock_gettime(CLOCK_REALTIME, &finished);
			done = 1;
		}
		return;
	}
}

static pid_t spawn_child(void)
{
	int in[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		fatal(errno, "/dev/null");
	if (!o.tty) {
		if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
			fatal(errno, "pipes for the container's output");
		if (o.stdin_open && pipe2(in, O_CLOEXEC) < 0)
			fatal(errno, "pipe for the container's stdin");
	}
	pid_t pid = fork();
	if (pid < 0)
		fatal(errno, "fork");
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* ignored signals survive execve: the container must get SIGPIPE as usual */
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
		umask(022);
		int fds[3] = { in[0] >= 0 ? in[0] : devnull, po[1] >= 0 ? po[1] : devnull, pe[1] >= 0 ? pe[1] : devnull };
		for (int i = 0; i < 3; i++)
			if (dup2(fds[i], i) < 0)
				fatal(errno, "stdio of the container");
		execv(o.argv[0], o.argv);
		fatal(errno, "exec %s", o.argv[0]);
	}
	close(devnull);
	if (!o.tty) {
		close(po[1]);
		close(pe[1]);
		out.fd = po[0];
		err.fd = pe[0];
		nonblock(out.fd);
		nonblock(err.fd);
		if (in[0] >= 0) {
			close(in[0]);
			stdin_fd = in[1];
			nonblock(stdin_fd);
		}
	}
	return pid;
}

/* ---- the end ---- */

static void write_exit(void)
{
	int code, sig = 0;
	const char *status = "exited";
	if (WIFSIGNALED(init_status)) {
		sig = WTERMSIG(init_status);
		code = 128 + sig;
		status = "signaled";
	} else
		code = WEXITSTATUS(init_status);
	char t[48], buf[256], tmp[4096];
	format_time(t, &finished);
	int n = snprintf(buf, sizeof(buf), "{\"pid\":%d,\"status\":\"%s\",\"exitCode\":%d,\"signal\":%d,\"finishedAt\":\"%s\"}\n",
			 (int)init_pid, status, code, sig, t);
	snprintf(tmp, sizeof(tmp), "%s.tmp", o.exit);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		long long w = 0;
		ssize_t r = write(fd, buf, (size_t)n);
		w = r;
		/* the record is the container's last word: on disk before it has a name */
		if (w == n && fsync(fd) == 0 && close(fd) == 0)
			rename(tmp, o.exit);
		else {
			close(fd);
			unlink(tmp);
		}
	}
	char line[32];
	n = snprintf(line, sizeof(line), "exit %d\n", code);
	for (int i = 0; i < nctl; i++) {
		int fl = fcntl(ctls[i].fd, F_GETFL);
		fcntl(ctls[i].fd, F_SETFL, fl & ~O_NONBLOCK);
		if (write(ctls[i].fd, line, (size_t)n) < 0) { /* that client is gone */ }
		close(ctls[i].fd);
	}
	nctl = 0;
}

/* the last output reaches the log and, within a second, the attach clients */
static void finish(void)
{
	for (int k = 0; k < 2; k++) {
		struct stream *s = k ? &err : &out;
		while (s->fd >= 0 && stream_read(s) == 0)
			;
		if (s->fd >= 0) {
			split_lines(s, 1);
			close(s->fd);
			s->fd = -1;
		}
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[MAX_ATTACH];
		int np = 0;
		for (int i = 0; i < natt; i++)
			if (att[i].plen)
				p[np++] = (struct pollfd){ .fd = att[i].fd, .events = POLLOUT };
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = 1000 - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (np == 0 || ms <= 0 || poll(p, (nfds_t)np, (int)ms) <= 0)
			break;
		for (int i = 0; i < natt;)
			if (att[i].plen && client_flush(&att[i]) < 0)
				drop_client(i);
			else
				i++;
	}
	write_exit();
	while (natt)
		drop_client(natt - 1);
	unlink(o.attach);
	unlink(o.ctl);
	if (console_lfd >= 0)
		unlink(o.console);
	if (jl.fd >= 0)
		close(jl.fd);
}

enum { T_SIG, T_ATT_L, T_CTL_L, T_CON_L, T_CON_C, T_OUT, T_ERR, T_STDIN, T_ATT, T_CTL };

int main(int argc, char **argv)
{
	out.fd = err.fd = -1;
	out.name = "stdout", out.kind = 1;
	err.name = "stderr", err.kind = 2;
	parse(argc, argv);
	if (o.sync_fd >= 0 && fcntl(o.sync_fd, F_GETFD) < 0) {
		o.sync_fd = -1;
		usage("--sync-fd is not an open fd");
	}
	if (o.sync_fd >= 0) {
		/* fds 3..sync-fd are berth-init's: any hole among them is filled (close-on-exec) so that
		 * every fd of our own numbers above them, and closing 3..sync-fd later closes only theirs */
		int nul = -1;
		for (int fd = 3; fd <= o.sync_fd; fd++)
			if (fcntl(fd, F_GETFD) < 0) {
				if (nul < 0 && (nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
					fatal(errno, "/dev/null");
				if (nul != fd && dup3(nul, fd, O_CLOEXEC) < 0)
					fatal(errno, "reserving fd %d", fd);
			}
	}
	if (chdir(o.dir) < 0)
		fatal(errno, "--dir %s", o.dir);
	/* container init reparents to us once berth-init's stage 0 exits */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fatal(errno, "PR_SET_CHILD_SUBREAPER");
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal(errno, "signalfd");
	umask(027); /* docker's log is 0640 */
	jl.path = o.log;
	jl.max_size = o.max_size;
	jl.max_file = o.max_file;
	if (jlog_open(&jl) < 0)
		fatal(errno, "log %s", o.log);
	/* every socket listens before the child runs: once berth-init speaks, they can be connected to */
	ctl_lfd = listen_unix(o.ctl);
	attach_lfd = listen_unix(o.attach);
	if (o.tty)
		console_lfd = listen_unix(o.console);
	spawn_child();
	if (o.sync_fd >= 0) {
		/* berth-init has them now; what we keep would hide its EOF from the runtime */
		for (int fd = 3; fd <= o.sync_fd; fd++)
			close(fd);
		o.sync_fd = -1;
	}

	struct pollfd p[8 + MAX_ATTACH + MAX_CTL];
	int tag[8 + MAX_ATTACH + MAX_CTL], idx[8 + MAX_ATTACH + MAX_CTL];
	while (!done) {
		int n = 0;
#define ADD(f, ev, t, i) do { p[n] = (struct pollfd){ .fd = (f), .events = (ev) }; tag[n] = (t); idx[n] = (i); n++; } while (0)
		ADD(sigfd, POLLIN, T_SIG, 0);
		/* new clients before output: a client connected before the container wrote gets all of it */
		ADD(attach_lfd, POLLIN, T_ATT_L, 0);
		ADD(ctl_lfd, POLLIN, T_CTL_L, 0);
		if (console_lfd >= 0 && console_cfd < 0)
			ADD(console_lfd, POLLIN, T_CON_L, 0);
		if (console_cfd >= 0)
			ADD(console_cfd, POLLIN, T_CON_C, 0);
		if (out.fd >= 0)
			ADD(out.fd, POLLIN, T_OUT, 0);
		if (err.fd >= 0)
			ADD(err.fd, POLLIN, T_ERR, 0);
		if (stdin_fd >= 0 && stdin_plen && stdin_fd != out.fd)
			ADD(stdin_fd, POLLOUT, T_STDIN, 0);
		for (int i = 0; i < natt; i++) {
			/* backpressure: clients are not read while the container's stdin is full */
			short ev = (short)((att[i].reading && stdin_plen == 0 ? POLLIN : 0) | (att[i].plen ? POLLOUT : 0));
			ADD(att[i].fd, ev, T_ATT, i);
		}
		for (int i = 0; i < nctl; i++)
			ADD(ctls[i].fd, POLLIN, T_CTL, i);
#undef ADD
		/* a tty's master is both output and stdin: POLLOUT on it when typed bytes wait */
		if (o.tty && stdin_fd >= 0 && stdin_plen)
			for (int k = 0; k < n; k++)
				if (tag[k] == T_OUT)
					p[k].events |= POLLOUT;
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal(errno, "poll");
		}
		/* our own fds in order (stdout before stderr), then clients from the end: dropping one
		 * moves the last into its slot */
		for (int pass = 0; pass < 2; pass++)
		for (int k = pass ? n - 1 : 0; pass ? k >= 0 : k < n; k += pass ? -1 : 1) {
			short re = p[k].revents;
			if (!re || (tag[k] >= T_ATT) != pass)
				continue;
			switch (tag[k]) {
			case T_SIG:
				reap();
				break;
			case T_OUT:
				if (re & POLLOUT)
					stdin_flush();
				if (re & (POLLIN | POLLHUP | POLLERR))
					stream_read(&out);
				break;
			case T_ERR:
				stream_read(&err);
				break;
			case T_STDIN:
				if (re & (POLLERR | POLLHUP))
					close_stdin();
				else
					stdin_flush();
				break;
			case T_ATT_L: {
				int c = accept4(attach_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (c >= 0 && natt == MAX_ATTACH)
					close(c);
				else if (c >= 0)
					att[natt++] = (struct client){ .fd = c, .reading = 1 };
				break;
			}
			case T_CTL_L: {
				int c = accept4(ctl_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (c >= 0 && nctl == MAX_CTL)
					close(c);
				else if (c >= 0)
					ctls[nctl++] = (struct ctl){ .fd = c };
				break;
			}
			case T_CON_L:
				console_cfd = accept4(console_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				break;
			case T_CON_C:
				console_recv();
				break;
			case T_ATT: {
				int i = idx[k];
				if ((re & POLLOUT) && client_flush(&att[i]) < 0) {
					drop_client(i);
					break;
				}
				if (re & POLLIN)
					client_read(i);
				else if (re & (POLLHUP | POLLERR))
					drop_client(i);
				break;
			}
			case T_CTL:
				ctl_read(idx[k]);
				break;
			}
		}
	}
	finish();
	return 0;
}

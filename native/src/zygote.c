/* The zygote: a long-lived berth-init that forks a fresh one per connection, so that a daemon
 * (a Node process of 100+ MB, whose every fork copies its page tables while its event loop
 * waits) never forks at all. berthd starts it once, connects to its socket for each helper it
 * needs and sends a one-record launch plan first:
 *   `plan`                   the forked child goes on as berth-init with the connection as its
 *                            sync socket (the next thing on it is the real plan)
 *   `exec SYNCFD ARGV...`    the child starts a session of its own, puts the connection at fd
 *                            SYNCFD, /dev/null at 0-2, and execs ARGV (berth-monitor)
 *   `run ARGV...`            the child starts a session of its own and execs ARGV with the
 *                            connection as its stdin, stdout and stderr (ip, nft)
 *   `netns PATH`             the child makes a network namespace, binds it on PATH, sets its
 *                            loopback up and says `done` (a container's sandbox)
 *   `umount PATH`            the child unmounts PATH lazily and says `done`
 * The child's first line on the connection is `forked\tPID`. The zygote reaps its children and
 * reports each on stdout as `exit\tPID\tCODE\tSIGNAL`; it exits when its stdin (the pipe from
 * berthd) reaches EOF, leaving its children (monitors) to the subreaper or init. It decides
 * nothing: what runs and with which fds is in the launch plan. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void report_exits(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		dprintf(1, "exit\t%d\t%d\t%d\n", (int)pid, code, sig);
	}
}

static int null_stdio(int from)
{
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dn < 0)
		return -1;
	for (int fd = from; fd <= 2; fd++)
		if (dup2(dn, fd) < 0)
			return -1;
	close(dn);
	return 0;
}

/* In the forked child: read the launch plan and either return the connection (plan mode) or exec. */
static int launch(int conn, const sigset_t *oldmask)
{
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	sync_fd = conn;
	struct plan launch;
	if (plan_read(conn, &launch) < 0 || launch.nrecs != 1)
		die("zygote", 0, "malformed launch record");
	const struct rec *r = &launch.recs[0];
	if (!strcmp(r->op, "plan") && r->n == 0) {
		/* stdin and stdout were the zygote's pipes to berthd; stderr stays berthd's */
		if (null_stdio(0) < 0 || dup2(0, 1) < 0)
			die("zygote", errno, "stdio of the helper");
		sync_send("forked\t%d", (int)getpid());
		return conn;
	}
	if (!strcmp(r->op, "exec") && r->n >= 2) {
		int target = atoi(r->a[0]);
		if (target < 3)
			die("zygote", EINVAL, "sync fd %s", r->a[0]);
		if (setsid() < 0 || null_stdio(0) < 0)
			die("zygote", errno, "session and stdio of %s", r->a[1]);
		/* dup2 to the same number would keep FD_CLOEXEC */
		if (conn == target) {
			if (fcntl(conn, F_SETFD, 0) < 0)
				die("zygote", errno, "sync fd");
		} else if (dup2(conn, target) < 0) {
			die("zygote", errno, "sync fd %d", target);
		} else {
			close(conn);
		}
		/* the plan's argument arrays are not NULL-terminated */
		char **argv = calloc((size_t)r->n, sizeof(char *));
		if (!argv)
			die("zygote", ENOMEM, "argv");
		for (int i = 1; i < r->n; i++)
			argv[i - 1] = r->a[i];
		sync_fd = target;
		sync_send("forked\t%d", (int)getpid());
		execv(argv[0], argv);
		die("zygote", errno, "exec %s", r->a[1]);
	}
	if (!strcmp(r->op, "netns") && r->n == 1) {
		/* a network namespace bound on the file PATH, loopback up: a container's sandbox,
		 * made by syscalls here rather than by exec'ing unshare and ip (3 ms less per start) */
		sync_send("forked\t%d", (int)getpid());
		if (unshare(CLONE_NEWNET) < 0)
			die("netns", errno, "unshare(CLONE_NEWNET)");
		if (mount("/proc/self/ns/net", r->a[0], NULL, MS_BIND, NULL) < 0)
			die("netns", errno, "bind the namespace on %s", r->a[0]);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		strcpy(ifr.ifr_name, "lo");
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			die("netns", errno, "loopback flags in %s", r->a[0]);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			die("netns", errno, "loopback up in %s", r->a[0]);
		sync_send("done");
		_exit(0);
	}
	if (!strcmp(r->op, "umount") && r->n == 1) {
		/* a lazy unmount of PATH; not mounted (EINVAL) or absent is done already */
		sync_send("forked\t%d", (int)getpid());
		if (umount2(r->a[0], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			die("umount", errno, "%s", r->a[0]);
		sync_send("done");
		_exit(0);
	}
	if (!strcmp(r->op, "run") && r->n >= 1) {
		/* a short command whose stdin, stdout and stderr are the connection itself */
		if (setsid() < 0 || dup2(conn, 0) < 0 || dup2(conn, 1) < 0 || dup2(conn, 2) < 0)
			die("zygote", errno, "session and stdio of %s", r->a[0]);
		if (conn > 2)
			close(conn);
		char **argv = calloc((size_t)r->n + 1, sizeof(char *));
		if (!argv)
			die("zygote", ENOMEM, "argv");
		for (int i = 0; i < r->n; i++)
			argv[i] = r->a[i];
		sync_fd = 1;
		sync_send("forked\t%d", (int)getpid());
		execv(argv[0], argv);
		die("zygote", errno, "exec %s", r->a[0]);
	}
	die("zygote", EINVAL, "unknown launch record %s", r->op);
}

int zygote_serve(const char *path)
{
	sigset_t chld, oldmask;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, &oldmask) < 0)
		die("zygote", errno, "blocking SIGCHLD");
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (sfd < 0 || lfd < 0)
		die("zygote", errno, "signalfd/socket");
	if (strlen(path) >= sizeof(sa.sun_path))
		die("zygote", ENAMETOOLONG, "%s", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	/* only root reaches it: the socket is made with no permissions for anyone else */
	mode_t old = umask(077);
	int rc = bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(lfd, 256) < 0)
		die("zygote", errno, "listening on %s", path);
	dprintf(1, "ready\t%d\n", (int)getpid());

	struct pollfd pfd[3] = {
		{ .fd = 0, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = lfd, .events = POLLIN },
	};
	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("zygote", errno, "poll");
		}
		if (pfd[0].revents) {
			char b[64];
			ssize_t n = read(0, b, sizeof(b));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				unlink(path);
				_exit(0);
			}
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			report_exits();
		}
		if (pfd[2].revents & POLLIN) {
			for (;;) {
				int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (conn < 0)
					break;
				pid_t pid = fork();
				if (pid == 0) {
					close(lfd);
					close(sfd);
					return launch(conn, &oldmask);
				}
				if (pid < 0) {
					/* the client sees the connection close without `forked` */
					dprintf(2, "berth-init zygote: fork: %s\n", strerror(errno));
				}
				close(conn);
			}
		}
	}
}

/* The process environment: names, sysctls, limits, terminal, hooks, and the final execve. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int console_sock = -1;
int fifo_fd = -1;
int preserve_fds = 0;
const char *hook_state = "";

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

int op_hostname(const struct rec *r)
{
	return sethostname(r->a[0], strlen(r->a[0]));
}

int op_domainname(const struct rec *r)
{
	return setdomainname(r->a[0], strlen(r->a[0]));
}

int op_lo_up(const struct rec *r)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(s);
	errno = e;
	return rc;
}

int op_sysctl(const struct rec *r)
{
	/* sysctl PATH_UNDER_/proc/sys VALUE */
	char path[4096];
	snprintf(path, sizeof(path), "/proc/sys/%s", r->a[0]);
	return write_file(path, r->a[1]);
}

int op_rlimit(const struct rec *r)
{
	struct rlimit rl = { (rlim_t)arg_ull(r, 1), (rlim_t)arg_ull(r, 2) };
	return setrlimit((int)arg_ll(r, 0), &rl);
}

int op_oom_score_adj(const struct rec *r)
{
	return write_file("/proc/self/oom_score_adj", r->a[0]);
}

static int send_fd(int sock, int fd, const char *name)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { (void *)name, strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int op_console(const struct rec *r)
{
	/* console ROWS COLS: a pty from the container's own devpts; the master goes to the caller */
	if (console_sock < 0) {
		errno = EBADF;
		return -1;
	}
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -1;
	int unlock = 0, ptn = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
		return -1;
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return -1;
	unsigned short rows = (unsigned short)arg_ull(r, 0), cols = (unsigned short)arg_ull(r, 1);
	if (rows || cols) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		ioctl(master, TIOCSWINSZ, &ws);
	}
	char ptspath[64];
	snprintf(ptspath, sizeof(ptspath), "/dev/pts/%d", ptn);
	if (fs_bind_console(ptspath) < 0)
		return -1;
	if (send_fd(console_sock, master, "/dev/ptmx") < 0)
		return -1;
	close(master);
	close(console_sock);
	console_sock = -1;
	/* the plan's `setsid` made us a session leader without a terminal: this one becomes ours */
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return -1;
	close(slave);
	return 0;
}

int op_hook(const struct rec *r)
{
	/* hook PATH TIMEOUT_S NARGS ARG... ENV...: state JSON on stdin, as the spec requires */
	const char *path = r->a[0];
	long timeout = (long)arg_ll(r, 1);
	int nargs = (int)arg_ll(r, 2);
	if (nargs < 0 || 3 + nargs > r->n) {
		errno = EINVAL;
		return -1;
	}
	char **argv = calloc((size_t)nargs + 2, sizeof(char *));
	char **envp = calloc((size_t)(r->n - 3 - nargs) + 1, sizeof(char *));
	if (!argv || !envp)
		return -1;
	if (nargs == 0)
		argv[0] = (char *)path;
	for (int i = 0; i < nargs; i++)
		argv[i] = r->a[3 + i];
	for (int i = 3 + nargs, k = 0; i < r->n; i++)
		envp[k++] = r->a[i];
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[0], 0);
		execve(path, argv, envp);
		dprintf(2, "berth-init: hook %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(p[0]);
	size_t len = strlen(hook_state);
	if (write(p[1], hook_state, len) != (ssize_t)len) {
		/* a hook that does not read its stdin is not an error */
	}
	close(p[1]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0 && timeout > 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int n;
		do
			n = poll(&pfd, 1, (int)(timeout * 1000));
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			die("hook", 0, "hook %s timed out after %ld s", path, timeout);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("hook", 0, "hook %s failed (%s %d)", path, WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	free(argv);
	free(envp);
	return 0;
}

int op_cwd(const struct rec *r)
{
	return chdir(r->a[0]);
}

static char exec_path[4096];

int op_resolve_exec(const struct rec *r)
{
	/* resolve_exec ARG0 PATHVAR: as execvp would, but with the container's PATH */
	const char *arg0 = r->a[0], *pathvar = r->a[1];
	struct stat st;
	if (strchr(arg0, '/')) {
		snprintf(exec_path, sizeof(exec_path), "%s", arg0);
		if (stat(exec_path, &st) < 0)
			die("exec", errno, "\"%s\"", arg0);
		return 0;
	}
	const char *p = pathvar;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		snprintf(exec_path, sizeof(exec_path), "%.*s/%s", (int)len, len ? p : ".", arg0);
		if (stat(exec_path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return 0;
		p += len;
		if (*p == ':')
			p++;
	}
	exec_path[0] = 0;
	die("exec", 0, "\"%s\": executable file not found in $PATH", arg0);
}

static int fifo_wr = -1;

int op_wait_fifo(const struct rec *r)
{
	/* blocks until `start` opens the exec fifo for reading */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fifo_fd);
	fifo_wr = open(path, O_WRONLY | O_CLOEXEC);
	if (fifo_wr < 0)
		return -1;
	close(fifo_fd);
	fifo_fd = -1;
	return 0;
}

int op_release(const struct rec *r)
{
	/* tells `start` the startContainer hooks are done; the write end stays open until execve
	 * closes it (O_CLOEXEC), so `start` sees EOF exactly when the user process has replaced us */
	if (fifo_wr < 0) {
		errno = EBADF;
		return -1;
	}
	return write(fifo_wr, "0", 1) == 1 ? 0 : -1;
}

int op_close_fds(const struct rec *r)
{
	/* nothing of the runtime may leak into the container (CVE-2024-21626): every fd past the
	 * preserved ones is marked close-on-exec */
	return (int)syscall(SYS_close_range, 3 + preserve_fds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
}

static char **exec_argv, **exec_envp;

int exec_prepare(const struct rec *r)
{
	/* exec NARGS ARG... ENV...: the arrays are built when the plan is read, so that nothing
	 * between the seccomp filter and execve allocates (malloc may need brk or mmap) */
	int nargs = (int)arg_ll(r, 0);
	if (nargs < 1 || 1 + nargs > r->n) {
		errno = EINVAL;
		return -1;
	}
	exec_argv = calloc((size_t)nargs + 1, sizeof(char *));
	exec_envp = calloc((size_t)(r->n - 1 - nargs) + 1, sizeof(char *));
	if (!exec_argv || !exec_envp)
		return -1;
	for (int i = 0; i < nargs; i++)
		exec_argv[i] = r->a[1 + i];
	for (int i = 1 + nargs, k = 0; i < r->n; i++)
		exec_envp[k++] = r->a[i];
	return 0;
}

static const char *exec_target(void)
{
	return exec_path[0] ? exec_path : exec_argv[0];
}

void exec_trace_note(void)
{
	uint64_t t = now_ns();
	trace_note("exec", t, t, exec_target());
}

_Noreturn void op_exec(const struct rec *r)
{
	if (!exec_argv)
		die("exec", EINVAL, "bad exec record");
	/* a no-op once the seccomp filter is loaded (it noted the exec ahead) */
	exec_trace_note();
	trace_flush();
	execve(exec_target(), exec_argv, exec_envp);
	die("exec", errno, "execve(\"%s\")", exec_target());
}

/* berth-init: stage 0 runs the plan's records up to `clone`, which forks the container's init
 * (inside the new namespaces); the init runs the rest, ending in execve. Stage 0 then either exits
 * (detached: the init is reparented to the caller's subreaper, as with runc) or waits for the init
 * and exits with its status (foreground `run` and `exec`). */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* CVE-2019-5736: a container process must never be able to write to the binary that enters its
 * namespaces. Run from a sealed, read-only memfd copy of ourselves. */
static void reexec_sealed(char **argv)
{
	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		if (!strncmp(self, "/memfd:berth-init", 17))
			return;
	}
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int mfd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct stat st;
	if (src < 0 || mfd < 0 || fstat(src, &st) < 0)
		die("reexec", errno, "copying the helper into a memfd");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t w = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
		if (w <= 0)
			die("reexec", errno, "copying the helper into a memfd");
	}
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		die("reexec", errno, "sealing the memfd");
	fexecve(mfd, argv, environ);
	die("reexec", errno, "fexecve of the sealed helper");
}

static int connect_unix(const char *path)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (s < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		errno = s < 0 ? errno : ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return s;
}

static _Noreturn void wait_and_exit(pid_t child)
{
	/* signals meant for the container are sent to the init's pid by berth-oci */
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(255);
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/* cgroup v2 directory the init is cloned into (CLONE_INTO_CGROUP): no migration afterwards */
static int cgroup_into_fd = -1;

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static int do_clone(const struct rec *r)
{
	unsigned long flags = (unsigned long)arg_ull(r, 0);
	int foreground = (int)arg_ll(r, 1);
	trace_flush();
	/* the init may only speak on the sync socket after we said "pid": it waits on this pipe */
	int order[2];
	if (pipe2(order, O_CLOEXEC) < 0)
		return -1;
	pid_t pid;
	if (cgroup_into_fd >= 0) {
		struct clone_args_v2 ca;
		memset(&ca, 0, sizeof(ca));
		ca.flags = flags | 0x200000000ULL /* CLONE_INTO_CGROUP */;
		ca.exit_signal = SIGCHLD;
		ca.cgroup = (uint64_t)cgroup_into_fd;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	} else {
		pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	}
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (cgroup_into_fd >= 0)
			close(cgroup_into_fd);
		close(order[1]);
		char c;
		while (read(order[0], &c, 1) < 0 && errno == EINTR)
			;
		close(order[0]);
		return 0;
	}
	close(order[0]);
	sync_send("pid\t%d", pid);
	close(order[1]);
	if (!foreground)
		_exit(0);
	close(sync_fd);
	if (console_sock >= 0)
		close(console_sock);
	wait_and_exit(pid);
}

static int expect(const char *want, char **payload)
{
	char *line;
	if (sync_readline(&line) < 0)
		die("sync", 0, "berth-oci went away while waiting for \"%s\"", want);
	size_t wl = strlen(want);
	if (strncmp(line, want, wl) || (line[wl] && line[wl] != '\t'))
		die("sync", 0, "expected \"%s\", got \"%.40s\"", want, line);
	if (payload)
		*payload = line[wl] ? strdup(line + wl + 1) : strdup("");
	return 0;
}

/* namespace files are opened before the first setns: once the mount namespace is joined,
 * /proc/<pid>/ns/... of the target may no longer be reachable */
static int *ns_fds;
static const struct plan *cur_plan;

static int run(const struct rec *r)
{
	const char *op = r->op;
#define IS(name) (!strcmp(op, name))
	if (IS("trace"))
		return trace_open(r->a[0]), 0;
	if (IS("mkfifo")) {
		/* exactly the mode asked for: the init writes to it after switching to the container's user */
		mode_t old = umask(0);
		int rc = mkfifo(r->a[0], (mode_t)arg_ull(r, 1));
		umask(old);
		return rc;
	}
	if (IS("fifo"))
		return (fifo_fd = open(r->a[0], O_PATH | O_CLOEXEC)) < 0 ? -1 : 0;
	if (IS("console_socket"))
		return (console_sock = connect_unix(r->a[0])) < 0 ? -1 : 0;
	if (IS("preserve_fds"))
		return preserve_fds = (int)arg_ll(r, 0), 0;
	if (IS("setns")) {
		int fd = ns_fds[r - cur_plan->recs];
		if (fd < 0)
			return -1;
		int rc = setns(fd, (int)arg_ll(r, 1));
		int e = errno;
		close(fd);
		errno = e;
		return rc;
	}
	if (IS("unshare"))
		return unshare((int)arg_ll(r, 0));
	if (IS("write_file")) {
		int fd = open(r->a[0], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ssize_t len = (ssize_t)strlen(r->a[1]);
		ssize_t w = write(fd, r->a[1], (size_t)len);
		int e = errno;
		close(fd);
		errno = e;
		return w == len ? 0 : -1;
	}
	if (IS("cgroup_tasks")) {
		/* a single-threaded process moving itself by writing "0" to a v1 `tasks` file skips
		 * the global threadgroup lock, and so the RCU grace period that cgroup.procs waits for */
		char path[4096];
		snprintf(path, sizeof(path), "%s/tasks", r->a[0]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ssize_t w = write(fd, "0", 1);
		int e = errno;
		close(fd);
		errno = e;
		return w == 1 ? 0 : -1;
	}
	if (IS("cgroup_into"))
		return (cgroup_into_fd = open(r->a[0], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ? -1 : 0;
	if (IS("clone"))
		return do_clone(r);
	if (IS("wait_go")) {
		char *state;
		expect("go", &state);
		hook_state = state;
		return 0;
	}
	if (IS("session_keyring"))
		return op_session_keyring(r);
	if (IS("setsid"))
		/* a session of its own, as runc and crun give it: a signal to the caller's process
		 * group or session (a terminal's ^C, a hang-up) does not reach the container */
		return setsid() < 0 ? -1 : 0;
	if (IS("exec_status"))
		return status_map(r->a[0]);
	if (IS("become_root"))
		return setresgid(0, 0, 0) < 0 ? -1 : setresuid(0, 0, 0);
	if (IS("hooks_sync")) {
		trace_flush();
		sync_send("hooks");
		return expect("continue", NULL);
	}
	if (IS("ready")) {
		trace_flush();
		sync_send("ready");
		close(sync_fd);
		sync_fd = -1;
		return 0;
	}
	if (IS("propagation")) return op_propagation(r);
	if (IS("rootfs")) return op_rootfs(r);
	if (IS("mount")) return op_mount(r);
	if (IS("mkdev")) return op_mkdev(r);
	if (IS("symlink")) return op_symlink(r);
	if (IS("mkdir")) return op_mkdir(r);
	if (IS("pivot_root")) return op_pivot_root(r);
	if (IS("chroot")) return op_chroot(r);
	if (IS("mount_log")) return op_mount_log(r);
	if (IS("root_dir")) return op_root_dir(r);
	if (IS("chroot_dir")) return op_chroot_dir(r);
	if (IS("umount_mnt")) return op_umount_mnt(r);
	if (IS("mask")) return op_mask(r);
	if (IS("readonly")) return op_readonly(r);
	if (IS("remount_root")) return op_remount_root(r);
	if (IS("user")) return op_user(r);
	if (IS("cap_bounding")) return op_cap_bounding(r);
	if (IS("cap_set")) return op_cap_set(r);
	if (IS("cap_ambient")) return op_cap_ambient(r);
	if (IS("no_new_privs")) return op_no_new_privs(r);
	if (IS("seccomp_init")) return op_seccomp_init(r);
	if (IS("seccomp_arch")) return op_seccomp_arch(r);
	if (IS("seccomp_flag")) return op_seccomp_flag(r);
	if (IS("seccomp_rule")) return op_seccomp_rule(r);
	if (IS("seccomp_export")) return op_seccomp_export(r);
	if (IS("seccomp_program")) return op_seccomp_program(r);
	if (IS("seccomp_load")) return op_seccomp_load(r);
	if (IS("hostname")) return op_hostname(r);
	if (IS("domainname")) return op_domainname(r);
	if (IS("lo_up")) return op_lo_up(r);
	if (IS("sysctl")) return op_sysctl(r);
	if (IS("rlimit")) return op_rlimit(r);
	if (IS("oom_score_adj")) return op_oom_score_adj(r);
	if (IS("console")) return op_console(r);
	if (IS("hook")) return op_hook(r);
	if (IS("cwd")) return op_cwd(r);
	if (IS("resolve_exec")) return op_resolve_exec(r);
	if (IS("wait_fifo")) return op_wait_fifo(r);
	if (IS("release")) return op_release(r);
	if (IS("close_fds")) return op_close_fds(r);
	if (IS("bpf_devices")) return op_bpf_devices(r);
	if (IS("mknod_at")) return op_mknod_at(r);
	if (IS("setxattr_at")) return op_setxattr_at(r);
	if (IS("overlay_mount")) return op_overlay_mount(r);
	if (IS("umount")) return op_umount(r);
	if (IS("done")) {
		/* the end of a one-off plan (update: bpf_devices), which has no clone and no exec */
		trace_flush();
		sync_send("done");
		_exit(0);
	}
	if (IS("exec")) op_exec(r);
#undef IS
	die("plan", 0, "unknown record \"%s\"", op);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		dprintf(2, "berth-init: the native helper of berth-oci; it is started by berth-oci, not by hand\n");
		return 2;
	}
	if (!strcmp(argv[1], "zygote")) {
		if (argc != 3) {
			dprintf(2, "berth-init: usage: berth-init zygote SOCKET\n");
			return 2;
		}
		reexec_sealed(argv);
		/* returns in each forked child that is to run a plan, with its connection */
		sync_fd = zygote_serve(argv[2]);
	} else {
		sync_fd = atoi(argv[1]);
		reexec_sealed(argv);
	}
	/* only now: the sealed re-exec must still inherit it */
	if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
		dprintf(2, "berth-init: sync fd %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	/* keep container processes from reading our memory or fds until execve resets this */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	struct plan plan;
	if (plan_read(sync_fd, &plan) < 0)
		die("plan", 0, "malformed or truncated plan");
	cur_plan = &plan;
	ns_fds = calloc((size_t)plan.nrecs, sizeof(int));
	if (!ns_fds)
		die("plan", ENOMEM, "allocating");
	for (int i = 0; i < plan.nrecs; i++) {
		ns_fds[i] = -1;
		if (!strcmp(plan.recs[i].op, "setns") && (ns_fds[i] = open(plan.recs[i].a[0], O_RDONLY | O_CLOEXEC)) < 0)
			die_record(i, plan.recs[i].op, errno);
		if (!strcmp(plan.recs[i].op, "exec") && exec_prepare(&plan.recs[i]) < 0)
			die_record(i, plan.recs[i].op, errno);
	}
	for (int i = 0; i < plan.nrecs; i++) {
		const struct rec *r = &plan.recs[i];
		uint64_t t0 = now_ns();
		int rc = run(r);
		if (rc < 0)
			die_record(i, r->op, errno);
		trace_rec(r, t0, now_ns(), rc);
	}
	die("plan", 0, "the plan ended without exec");
}

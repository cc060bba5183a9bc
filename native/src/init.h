/* berth-init: executes a plan computed by berth-oci (TypeScript). It makes no decisions of its own:
 * every path, flag, number and order comes from the plan. See src/runtime/plan/encode.ts for the
 * format: a length-prefixed list of records, each `op \0 nargs \0 arg1 \0 ... argN \0`. */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

#include <stddef.h>
#include <stdint.h>

struct rec {
	const char *op;
	int n;
	char **a;
};

struct plan {
	struct rec *recs;
	int nrecs;
};

/* plan.c */
int plan_read(int fd, struct plan *p);

/* zygote.c: forks a helper per connection; returns in a child that runs a plan */
int zygote_serve(const char *path);

/* sync.c: line protocol with berth-oci on the sync socket */
extern int sync_fd;
void sync_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sync_send_hex(const char *kind, const void *data, size_t len); /* `kind \t hex \n` */
int sync_readline(char **line); /* returns length, or -1 on EOF/error; *line valid until next call */
_Noreturn void die_record(int index, const char *op, int err);
int status_map(const char *path);
_Noreturn void die(const char *op, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* trace.c: creation trace, buffered and flushed at well-defined points */
void trace_open(const char *path);
void trace_rec(const struct rec *r, uint64_t t0, uint64_t t1, long result);
void trace_note(const char *step, uint64_t t0, uint64_t t1, const char *detail);
void trace_flush(void);
uint64_t now_ns(void);
int trace_fd(void);
void trace_seal(void);

/* arg helpers */
long long arg_ll(const struct rec *r, int i);
unsigned long long arg_ull(const struct rec *r, int i);
int hexval(char c);

/* fsops.c: root filesystem */
struct open_how;
int openat2_retry(int dirfd, const char *path, struct open_how *how);
int op_propagation(const struct rec *r);
int op_rootfs(const struct rec *r);
int op_mount(const struct rec *r);
int op_mkdev(const struct rec *r);
int op_symlink(const struct rec *r);
int op_mkdir(const struct rec *r);
int op_pivot_root(const struct rec *r);
int op_chroot(const struct rec *r);
int op_mask(const struct rec *r);
int op_readonly(const struct rec *r);
int op_remount_root(const struct rec *r);
int fs_bind_console(const char *ptspath);
/* a container in the host's mount namespace: logged mounts, no bind of the root, plain chroot */
int op_mount_log(const struct rec *r);
int op_root_dir(const struct rec *r);
int op_chroot_dir(const struct rec *r);
int op_umount_mnt(const struct rec *r);

/* tmpcopyup.c */
int tmpcopyup_mount(int dirfd, int targetfd, const char *target, unsigned long flags, const char *data);

/* secops.c: identity and security */
int op_user(const struct rec *r);
int op_cap_bounding(const struct rec *r);
int op_cap_set(const struct rec *r);
int op_cap_ambient(const struct rec *r);
int op_no_new_privs(const struct rec *r);
int op_seccomp_init(const struct rec *r);
int op_seccomp_arch(const struct rec *r);
int op_seccomp_flag(const struct rec *r);
int op_seccomp_rule(const struct rec *r);
int op_seccomp_export(const struct rec *r);
int op_seccomp_program(const struct rec *r);
int op_seccomp_load(const struct rec *r);
int op_session_keyring(const struct rec *r);

/* procops.c: process environment, hooks, console, exec */
extern int console_sock;
extern int fifo_fd;
extern int preserve_fds;
extern const char *hook_state;
int op_hostname(const struct rec *r);
int op_domainname(const struct rec *r);
int op_lo_up(const struct rec *r);
int op_sysctl(const struct rec *r);
int op_rlimit(const struct rec *r);
int op_oom_score_adj(const struct rec *r);
int op_console(const struct rec *r);
int op_hook(const struct rec *r);
int op_cwd(const struct rec *r);
int op_resolve_exec(const struct rec *r);
int op_wait_fifo(const struct rec *r);
int op_release(const struct rec *r);
int op_close_fds(const struct rec *r);
int exec_prepare(const struct rec *r);
void exec_trace_note(void);
_Noreturn void op_exec(const struct rec *r);

/* bpfdev.c: cgroup v2 device filter (eBPF) */
int op_bpf_devices(const struct rec *r);

/* layerops.c: image layer unpacking (device nodes, fifos, xattrs, overlay whiteouts) */
int op_mknod_at(const struct rec *r);
int op_setxattr_at(const struct rec *r);

/* overlay.c: overlay mounts of image layers (new mount API, lowerdir+) */
int op_overlay_mount(const struct rec *r);
int op_umount(const struct rec *r);

#endif

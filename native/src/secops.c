/* Identity and security: user and groups, the five capability sets, no_new_privs, seccomp. */
#include "init.h"
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int op_user(const struct rec *r)
{
	/* user UID GID UMASK NGIDS GID... */
	uid_t uid = (uid_t)arg_ll(r, 0);
	gid_t gid = (gid_t)arg_ll(r, 1);
	int ngids = (int)arg_ll(r, 3);
	gid_t gids[256];
	if (ngids > 256 || ngids > r->n - 4) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < ngids; i++)
		gids[i] = (gid_t)arg_ll(r, 4 + i);
	/* an empty list in a user namespace whose setgroups is denied cannot be set, and need not be */
	if (setgroups((size_t)ngids, gids) < 0 && !(ngids == 0 && errno == EPERM))
		return -1;
	if (setresgid(gid, gid, gid) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	if (setresuid(uid, uid, uid) < 0)
		return -1;
	umask((mode_t)arg_ull(r, 2));
	return 0;
}

int op_cap_bounding(const struct rec *r)
{
	unsigned long long keep = arg_ull(r, 0);
	for (int c = 0; c < 64; c++) {
		int has = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (has < 0)
			break; /* past the kernel's last capability */
		if (has && !(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -1;
	}
	return 0;
}

int op_cap_set(const struct rec *r)
{
	/* cap_set EFFECTIVE PERMITTED INHERITABLE */
	unsigned long long eff = arg_ull(r, 0), perm = arg_ull(r, 1), inh = arg_ull(r, 2);
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

int op_cap_ambient(const struct rec *r)
{
	unsigned long long amb = arg_ull(r, 0);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	/* the kernel raises an ambient capability only if it is also permitted and inheritable;
	 * runc's default spec lists ambient caps without inheritable ones, and runc goes on without
	 * them, so a refused raise (EPERM) is skipped here too */
	for (int c = 0; c < 64; c++)
		if ((amb & (1ull << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
			return -1;
	return 0;
}

int op_no_new_privs(const struct rec *r)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static scmp_filter_ctx ctx;
/* SECCOMP_FILTER_FLAG_* for the seccomp(2) that loads the filter (see op_seccomp_load) */
static unsigned int load_flags;

static int neg(int rc)
{
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

int op_seccomp_init(const struct rec *r)
{
	/* seccomp_init DEFAULT_ACTION */
	ctx = seccomp_init((uint32_t)arg_ull(r, 0));
	if (!ctx) {
		errno = EINVAL;
		return -1;
	}
	/* no_new_privs is set by its own record, only when the config asks for it */
	return neg(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0));
}

int op_seccomp_arch(const struct rec *r)
{
	int rc = seccomp_arch_add(ctx, (uint32_t)arg_ull(r, 0));
	return rc == -EEXIST ? 0 : neg(rc);
}

int op_seccomp_flag(const struct rec *r)
{
	const char *f = r->a[0];
	if (!strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
		return load_flags |= SECCOMP_FILTER_FLAG_LOG, 0;
	if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
		return load_flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW, 0;
	if (!strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
		return load_flags |= SECCOMP_FILTER_FLAG_TSYNC, 0;
	die("seccomp", 0, "flag %s is not supported by this libseccomp", f);
}

int op_seccomp_rule(const struct rec *r)
{
	/* seccomp_rule ACTION NAME NARGS (INDEX OP VALUE VALUE2)* */
	uint32_t action = (uint32_t)arg_ull(r, 0);
	const char *name = r->a[1];
	int nargs = (int)arg_ll(r, 2);
	struct scmp_arg_cmp cmp[6];
	if (nargs > 6 || r->n < 3 + nargs * 4) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < nargs; i++) {
		cmp[i].arg = (unsigned int)arg_ull(r, 3 + i * 4);
		cmp[i].op = (enum scmp_compare)arg_ull(r, 4 + i * 4);
		cmp[i].datum_a = (scmp_datum_t)arg_ull(r, 5 + i * 4);
		cmp[i].datum_b = (scmp_datum_t)arg_ull(r, 6 + i * 4);
	}
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		die("seccomp", 0, "unknown syscall \"%s\" in linux.seccomp.syscalls", name);
	int rc = seccomp_rule_add_array(ctx, action, nr, (unsigned int)nargs, cmp);
	if (rc < 0)
		die("seccomp", -rc, "adding the rule for syscall \"%s\"", name);
	return 0;
}

/* The program seccomp_load loads: compiled here by libseccomp (seccomp_export) or given by the
 * plan (seccomp_program). Both run in stage 0, so the init inherits it ready to load. */
static struct sock_fprog prog;

int op_seccomp_export(const struct rec *r)
{
	/* seccomp_export KEY: libseccomp compiles the filter the records before built. The program is
	 * kept for seccomp_load and sent to berth-oci, which caches it under KEY for the next
	 * container with the same profile. The result (traced) is the number of instructions. */
	int mfd = memfd_create("berth-seccomp", MFD_CLOEXEC);
	if (mfd < 0)
		return -1;
	int rc = seccomp_export_bpf(ctx, mfd);
	off_t len = rc < 0 ? -1 : lseek(mfd, 0, SEEK_END);
	struct sock_filter *insns = len > 0 ? malloc((size_t)len) : NULL;
	int e = rc < 0 ? -rc : errno;
	if (insns && pread(mfd, insns, (size_t)len, 0) != len) {
		e = errno ? errno : EIO;
		free(insns);
		insns = NULL;
	}
	close(mfd);
	if (!insns || len % (off_t)sizeof(struct sock_filter) || len / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		errno = e ? e : EINVAL;
		return -1;
	}
	seccomp_release(ctx);
	ctx = NULL;
	prog.len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
	prog.filter = insns;
	sync_send_hex("seccomp_program", insns, (size_t)len);
	return prog.len;
}

int op_seccomp_program(const struct rec *r)
{
	/* seccomp_program KEY NINSNS HEX: a program libseccomp compiled for an earlier container,
	 * checked by berth-oci; here only its size is checked, against the count and the kernel's limit */
	long long n = arg_ll(r, 1);
	const char *hex = r->n > 2 ? r->a[2] : "";
	size_t bytes = (size_t)n * sizeof(struct sock_filter);
	if (n < 1 || n > BPF_MAXINSNS || strlen(hex) != bytes * 2) {
		errno = EINVAL;
		return -1;
	}
	unsigned char *buf = malloc(bytes);
	if (!buf)
		return -1;
	for (size_t i = 0; i < bytes; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			errno = EINVAL;
			return -1;
		}
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	free(prog.filter);
	prog.len = (unsigned short)n;
	prog.filter = (struct sock_filter *)buf;
	return 0;
}

int op_seccomp_load(const struct rec *r)
{
	/* The filter is the last thing before execve: after it, no syscall may run that the user's
	 * profile could deny. So the program is ready (stage 0 compiled or decoded it) and this is
	 * one seccomp(2) that returns straight to execve. The trace is written ahead for the same
	 * reason: this step (timed up to the load) and the exec to come. */
	uint64_t t0 = now_ns();
	if (!prog.filter) {
		errno = EINVAL;
		return -1;
	}
	trace_rec(r, t0, now_ns(), prog.len);
	exec_trace_note();
	trace_flush();
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, load_flags, &prog) != 0)
		return -1;
	trace_seal();
	return 0;
}

#define KEY_USR_SEARCH 0x00080000 /* keyutils.h: the owner may search (find by name) */

int op_session_keyring(const struct rec *r)
{
	/* session_keyring NAME: join the session keyring of that name, creating it if there is
	 * none, so that no process of the container possesses the caller's keys. As in runc, the
	 * init creates `_ses.<id>` and makes it searchable by its owner: that is what lets
	 * `exec` (KEYCTL_JOIN_SESSION_KEYRING of the same name) find and join it */
	long k = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, r->a[0]);
	if (k < 0)
		return errno == ENOSYS ? 0 : -1;
	char desc[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, k, desc, sizeof(desc));
	if (n < 0)
		return -1;
	desc[(size_t)n < sizeof(desc) ? (size_t)n : sizeof(desc) - 1] = 0;
	/* "type;uid;gid;perm;description", perm in hex */
	char *p = desc;
	for (int i = 0; i < 3 && p; i++)
		if ((p = strchr(p, ';')))
			p++;
	if (!p) {
		errno = EPROTO;
		return -1;
	}
	unsigned long perm = strtoul(p, NULL, 16);
	if (perm & KEY_USR_SEARCH)
		return 0;
	return syscall(SYS_keyctl, KEYCTL_SETPERM, k, perm | KEY_USR_SEARCH) < 0 ? -1 : 0;
}

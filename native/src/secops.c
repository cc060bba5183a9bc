/* Identity and security: user and groups, the five capability sets, no_new_privs, seccomp. */
#include "init.h"
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
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
		return neg(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1));
	if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
		return neg(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1));
	if (!strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
		return neg(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1));
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

int op_seccomp_load(const struct rec *r)
{
	return neg(seccomp_load(ctx));
}

/* bpf_devices DIR HEX: the cgroup v2 device filter. HEX is an eBPF program (struct bpf_insn after
 * struct bpf_insn, in this machine's byte order) compiled by berth-oci from the spec's device rules
 * (src/runtime/cgroups/v2/devices.ts). It is loaded as BPF_PROG_TYPE_CGROUP_DEVICE, named
 * "berth_devices", and attached to the cgroup DIR with BPF_F_ALLOW_MULTI; a program berth
 * attached before is replaced (atomically with BPF_F_REPLACE when there is exactly one, else the
 * new one is attached first and the old ones detached after, so that access never widens in
 * between). Programs of other names (systemd's, say) are left alone. An empty HEX only detaches
 * berth's programs. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG_NAME "berth_devices"
#define MAX_ATTACHED 64

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* The berth programs attached directly to the cgroup, as fds (caller closes). */
static int berth_programs(int cgfd, int *fds, int max)
{
	uint32_t ids[MAX_ATTACHED];
	union bpf_attr q;
	memset(&q, 0, sizeof(q));
	q.query.target_fd = (uint32_t)cgfd;
	q.query.attach_type = BPF_CGROUP_DEVICE;
	q.query.prog_ids = (uint64_t)(uintptr_t)ids;
	q.query.prog_cnt = MAX_ATTACHED;
	if (sys_bpf(BPF_PROG_QUERY, &q) < 0)
		die("bpf_devices", errno, "BPF_PROG_QUERY(BPF_CGROUP_DEVICE) of the cgroup");
	int n = 0;
	for (uint32_t i = 0; i < q.query.prog_cnt && n < max; i++) {
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.prog_id = ids[i];
		int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		if (fd < 0)
			continue; /* gone meanwhile, or not ours to see */
		struct bpf_prog_info info;
		memset(&info, 0, sizeof(info));
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)fd;
		a.info.info_len = sizeof(info);
		a.info.info = (uint64_t)(uintptr_t)&info;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 && !strcmp(info.name, PROG_NAME))
			fds[n++] = fd;
		else
			close(fd);
	}
	return n;
}

/* Loads the program; the verifier's last words go into the error if it refuses. */
static int load(const struct bpf_insn *insns, size_t n)
{
	static char log[1 << 16];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t)"Apache";
	memcpy(a.prog_name, PROG_NAME, sizeof(PROG_NAME));

	/* kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; the container must not inherit
	 * the raised limit, so it is put back at once */
	struct rlimit old, inf = { RLIM_INFINITY, RLIM_INFINITY };
	int raised = getrlimit(RLIMIT_MEMLOCK, &old) == 0 && setrlimit(RLIMIT_MEMLOCK, &inf) == 0;
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	int e = errno;
	if (fd < 0 && (e == EINVAL || e == EACCES)) {
		/* again with the verifier's log, to say why */
		log[0] = 0;
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
		e = errno;
	}
	if (raised)
		setrlimit(RLIMIT_MEMLOCK, &old);
	if (fd < 0) {
		/* the verifier's reason is its last line, before the statistics ("processed N insns") */
		const char *why = "";
		for (char *nl; (nl = strrchr(log, '\n')) || log[0]; ) {
			const char *line = nl ? nl + 1 : log;
			if (*line && strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17)) {
				why = line;
				break;
			}
			if (!nl)
				break;
			*nl = 0;
		}
		die("bpf_devices", e, "BPF_PROG_LOAD of the device filter (%zu instructions)%s%s", n,
		    *why ? ": verifier: " : "", why);
	}
	return fd;
}

static void detach(int cgfd, int progfd)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)progfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
		die("bpf_devices", errno, "BPF_PROG_DETACH of berth's previous device filter");
}

int op_bpf_devices(const struct rec *r)
{
	if (r->n != 2)
		die("bpf_devices", 0, "expects 2 arguments (cgroup dir, program), got %d", r->n);
	const char *dir = r->a[0], *hex = r->a[1];
	size_t hlen = strlen(hex);
	if (hlen % 16)
		die("bpf_devices", 0, "the program is not a whole number of instructions");
	size_t n = hlen / 16;
	struct bpf_insn *insns = NULL;
	if (n) {
		insns = calloc(n, sizeof(*insns));
		if (!insns)
			die("bpf_devices", ENOMEM, "allocating the program");
		unsigned char *b = (unsigned char *)insns;
		for (size_t i = 0; i < hlen; i += 2) {
			int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
			if (hi < 0 || lo < 0)
				die("bpf_devices", 0, "the program is not hex");
			b[i / 2] = (unsigned char)(hi << 4 | lo);
		}
	}

	/* a real (not O_PATH) descriptor: the bpf commands take it with fdget() */
	int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		die("bpf_devices", errno, "opening the cgroup %s", dir);
	int old[MAX_ATTACHED];
	int nold = berth_programs(cgfd, old, MAX_ATTACHED);

	if (n) {
		int prog = load(insns, n);
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)cgfd;
		a.attach_bpf_fd = (uint32_t)prog;
		a.attach_type = BPF_CGROUP_DEVICE;
		a.attach_flags = BPF_F_ALLOW_MULTI;
		int replaced = 0;
		if (nold == 1) {
			a.attach_flags |= BPF_F_REPLACE;
			a.replace_bpf_fd = (uint32_t)old[0];
			if (sys_bpf(BPF_PROG_ATTACH, &a) == 0)
				replaced = 1;
			else if (errno != EINVAL) /* EINVAL: a kernel before 5.6, without BPF_F_REPLACE */
				die("bpf_devices", errno, "BPF_PROG_ATTACH(BPF_CGROUP_DEVICE, BPF_F_REPLACE) to %s", dir);
			a.attach_flags = BPF_F_ALLOW_MULTI;
			a.replace_bpf_fd = 0;
		}
		if (!replaced && sys_bpf(BPF_PROG_ATTACH, &a) < 0)
			die("bpf_devices", errno, "BPF_PROG_ATTACH(BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) to %s", dir);
		if (replaced) {
			close(old[0]);
			nold = 0;
		}
		close(prog);
		free(insns);
	}
	for (int i = 0; i < nold; i++) {
		detach(cgfd, old[i]);
		close(old[i]);
	}
	close(cgfd);
	return 0;
}

/* Root filesystem operations. Every destination is resolved inside the container's root with
 * openat2(RESOLVE_IN_ROOT), so a symlink in the image can never send a mount, a device node or a
 * new directory outside the root; mounts then target the resolved /proc/self/fd/N. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int rootfd = -1;
static char rootpath[4096];

static void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

/* openat2(2), retried while it fails with EAGAIN. With RESOLVE_IN_ROOT (or BENEATH), a lookup
 * that walks ".." fails with EAGAIN when any mount or rename happened anywhere on the system
 * during it: the kernel cannot then prove ".." stayed inside the root. Nothing is wrong with
 * the path; the lookup is tried again, a bounded number of times (a host that mounts or renames
 * without pause could otherwise keep us here for ever). */
int openat2_retry(int dirfd, const char *path, struct open_how *how)
{
	for (int i = 0;; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
		if (fd >= 0 || errno != EAGAIN || i == 1000)
			return fd;
	}
}

static int openat2_in_root(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return openat2_retry(rootfd, path, &how);
}

/* Split "a/b/c" into a parent fd (resolved in root) and the last name. */
static int open_parent(const char *path, char *name, size_t namesz)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	size_t len = strlen(tmp);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = 0;
	char *slash = strrchr(tmp, '/');
	const char *base = slash ? slash + 1 : tmp;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, namesz, "%s", base);
	if (slash)
		*slash = 0;
	return openat2_in_root(slash ? tmp : ".", O_PATH | O_DIRECTORY);
}

static int mkdir_in_root_depth(const char *path, mode_t mode, int depth);

/* mkdirat said EEXIST: if the entry is a dangling symlink, create its target (inside the root,
 * as openat2 would resolve it), as runc's MkdirAll over SecureJoin does */
static int follow_dangling(const char *prefix, mode_t mode, int depth)
{
	char name[256], target[4096], resolved[8192];
	int parent = open_parent(prefix, name, sizeof(name));
	if (parent < 0)
		return -1;
	ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
	int e = errno;
	close(parent);
	if (n < 0)
		return e == EINVAL ? 0 : (errno = e, -1); /* not a symlink: a real entry */
	target[n] = 0;
	if (target[0] == '/') {
		snprintf(resolved, sizeof(resolved), "%s", target);
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", prefix);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			dir[0] = 0;
		snprintf(resolved, sizeof(resolved), "%s/%s", dir, target);
	}
	return mkdir_in_root_depth(resolved, mode, depth + 1);
}

static int mkdir_in_root(const char *path, mode_t mode)
{
	return mkdir_in_root_depth(path, mode, 0);
}

static int mkdir_in_root_depth(const char *path, mode_t mode, int depth)
{
	if (depth > 40) {
		errno = ELOOP;
		return -1;
	}
	char prefix[4096];
	size_t len = strlen(path);
	if (len >= sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (size_t i = 1; i <= len; i++) {
		if (i != len && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = 0;
		int fd = openat2_in_root(prefix, O_PATH);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return -1;
		char name[256];
		int parent = open_parent(prefix, name, sizeof(name));
		if (parent < 0)
			return -1;
		int rc = mkdirat(parent, name, mode);
		int e = errno;
		close(parent);
		if (rc < 0 && e == EEXIST) {
			if (follow_dangling(prefix, mode, depth) < 0)
				return -1;
		} else if (rc < 0) {
			errno = e;
			return -1;
		}
	}
	return 0;
}

/* open_parent, after making the parent directories (in the root) when they are missing */
static int make_parent(const char *path, char *name, size_t namesz)
{
	char parentpath[4096];
	snprintf(parentpath, sizeof(parentpath), "%s", path);
	char *slash = strrchr(parentpath, '/');
	if (slash && slash != parentpath) {
		*slash = 0;
		if (mkdir_in_root(parentpath, 0755) < 0)
			return -1;
	}
	return open_parent(path, name, namesz);
}

/* Open (creating when missing) a mount point: kind "dir" or "file". */
static int open_target(const char *path, const char *kind)
{
	int fd = openat2_in_root(path, O_PATH);
	if (fd >= 0 || errno != ENOENT || !kind || !*kind)
		return fd;
	if (!strcmp(kind, "tmpcopyup"))
		kind = "dir";
	if (!strcmp(kind, "file")) {
		char name[256];
		int parent = make_parent(path, name, sizeof(name));
		if (parent < 0)
			return -1;
		int f = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		int e = errno;
		close(parent);
		if (f < 0 && e != EEXIST) {
			errno = e;
			return -1;
		}
		if (f >= 0)
			close(f);
	} else if (mkdir_in_root(path, 0755) < 0) {
		return -1;
	}
	return openat2_in_root(path, O_PATH);
}

static void fdpath(int fd, char *buf, size_t sz)
{
	snprintf(buf, sz, "/proc/self/fd/%d", fd);
}

/* mount(2) onto what `fd` is open on (through /proc/self/fd/N: the target is what openat2
 * resolved in the root); closes fd, keeping mount's errno */
static int mount_on_fd(int fd, const char *src, const char *fstype, unsigned long flags, const void *data)
{
	char target[64];
	fdpath(fd, target, sizeof(target));
	int rc = mount(src, target, fstype, flags, data);
	close_keep_errno(fd);
	return rc;
}

/* mount_on_fd on `path`, resolved in the root anew: after a mount on path, this reaches the
 * new mount on top of it (a remount must, to change the new mount's flags) */
static int mount_in_root(const char *path, const char *src, const char *fstype, unsigned long flags, const void *data)
{
	int fd = openat2_in_root(path, O_PATH);
	return fd < 0 ? -1 : mount_on_fd(fd, src, fstype, flags, data);
}

int op_propagation(const struct rec *r)
{
	/* propagation PATH FLAGS */
	return mount(NULL, r->a[0], NULL, (unsigned long)arg_ull(r, 1), NULL);
}

int op_rootfs(const struct rec *r)
{
	/* rootfs PATH: bind the root onto itself so that it is a mount point pivot_root accepts */
	snprintf(rootpath, sizeof(rootpath), "%s", r->a[0]);
	if (mount(rootpath, rootpath, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	rootfd = open(rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int mount_record(const struct rec *r)
{
	/* mount SRC DST FSTYPE FLAGS DATA PROPFLAGS KIND */
	const char *src = r->a[0], *dst = r->a[1], *fstype = r->a[2], *data = r->a[4], *kind = r->a[6];
	unsigned long flags = (unsigned long)arg_ull(r, 3), prop = (unsigned long)arg_ull(r, 5);
	int fd = open_target(dst, kind);
	if (fd < 0)
		return -1;
	if (!strcmp(kind, "tmpcopyup")) {
		/* the O_PATH fd cannot list the directory: reopen it for reading first */
		int dir = openat2_in_root(dst, O_RDONLY | O_DIRECTORY);
		if (dir < 0) {
			close_keep_errno(fd);
			return -1;
		}
		char target[64];
		fdpath(fd, target, sizeof(target));
		int rc = tmpcopyup_mount(dir, fd, target, flags, data);
		close_keep_errno(dir);
		close_keep_errno(fd);
		return rc;
	}
	int rc;
	if (flags & MS_REMOUNT) {
		rc = mount_on_fd(fd, NULL, NULL, flags, *data ? data : NULL);
	} else if (flags & MS_BIND) {
		rc = mount_on_fd(fd, src, NULL, MS_BIND | (flags & MS_REC), NULL);
		/* the flags of a bind mount only take effect on a remount of the new mount */
		unsigned long rest = flags & ~(unsigned long)(MS_BIND | MS_REC);
		if (rc == 0 && rest)
			rc = mount_in_root(dst, NULL, NULL, rest | MS_BIND | MS_REMOUNT, NULL);
	} else {
		rc = mount_on_fd(fd, src, fstype, flags, *data ? data : NULL);
	}
	if (rc == 0 && prop)
		rc = mount_in_root(dst, NULL, NULL, prop, NULL);
	return rc;
}

int op_mkdev(const struct rec *r)
{
	/* mkdev DST MODE DEV UID GID: MODE includes the file type bits */
	char name[256];
	int parent = make_parent(r->a[0], name, sizeof(name));
	if (parent < 0)
		return -1;
	mode_t mode = (mode_t)arg_ull(r, 1);
	dev_t dev = (dev_t)arg_ull(r, 2);
	unlinkat(parent, name, 0);
	int rc = mknodat(parent, name, mode, dev);
	if (rc == 0)
		rc = fchownat(parent, name, (uid_t)arg_ll(r, 3), (gid_t)arg_ll(r, 4), AT_SYMLINK_NOFOLLOW);
	if (rc == 0)
		rc = fchmodat(parent, name, mode & 07777, 0);
	close_keep_errno(parent);
	return rc;
}

int op_symlink(const struct rec *r)
{
	/* symlink TARGET LINKPATH */
	char name[256];
	int parent = open_parent(r->a[1], name, sizeof(name));
	if (parent < 0)
		return -1;
	int rc = symlinkat(r->a[0], parent, name);
	int e = errno;
	close(parent);
	if (rc < 0 && e == EEXIST)
		return 0;
	errno = e;
	return rc;
}

int op_mkdir(const struct rec *r)
{
	return mkdir_in_root(r->a[0], (mode_t)arg_ull(r, 1));
}

int op_pivot_root(const struct rec *r)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return -1;
	if (fchdir(rootfd) < 0)
		return -1;
	/* pivot_root(".", ".") stacks the old root on top of the new one; then detach it */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	if (fchdir(oldroot) < 0)
		return -1;
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -1;
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	close(oldroot);
	if (chdir("/") < 0)
		return -1;
	close(rootfd);
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

int op_chroot(const struct rec *r)
{
	if (fchdir(rootfd) < 0)
		return -1;
	if (mount(rootpath, "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0 || chdir("/") < 0)
		return -1;
	close(rootfd);
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

int op_mask(const struct rec *r)
{
	/* mask PATH: /dev/null over a file, an empty read-only tmpfs over a directory */
	int fd = openat2_in_root(r->a[0], O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return mount_on_fd(fd, "tmpfs", "tmpfs", MS_RDONLY, NULL);
	return mount_on_fd(fd, "/dev/null", NULL, MS_BIND, NULL);
}

int op_readonly(const struct rec *r)
{
	/* readonly PATH: bind onto itself, then remount the new mount read-only */
	const char *path = r->a[0];
	int fd = openat2_in_root(path, O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	char self[64];
	fdpath(fd, self, sizeof(self));
	if (mount_on_fd(fd, self, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	int rc = mount_in_root(path, NULL, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (rc < 0 && errno == EPERM) /* locked flags (e.g. in a user namespace): keep what is locked */
		rc = mount_in_root(path, NULL, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	return rc;
}

int op_remount_root(const struct rec *r)
{
	/* remount_root FLAGS: e.g. root.readonly */
	return mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | (unsigned long)arg_ull(r, 0), NULL);
}

static uint64_t top_mount_in_root(const char *path);
static int log_new_mount(const char *path, uint64_t before, int rc);

int fs_bind_console(const char *ptspath)
{
	/* the terminal of the container is also its /dev/console, as in runc (not for exec) */
	if (rootfd < 0)
		return 0;
	uint64_t before = top_mount_in_root("/dev/console");
	int fd = open_target("/dev/console", "file");
	if (fd < 0)
		return -1;
	return log_new_mount("/dev/console", before, mount_on_fd(fd, ptspath, NULL, MS_BIND, NULL));
}

/* ---- a container in the host's mount namespace (linux.namespaces lists no "mount")
 * Its mounts are made under the rootfs on the host and outlive the container unless berth-oci
 * unmounts them. Each one is logged (its mount id) the moment it exists, to a file berth-oci
 * named; `delete` and a failed `create` unmount exactly those, in reverse order, even after a
 * crash of berth-oci or of this helper. Nothing the project did not mount is ever touched, the
 * host's "/" included (no propagation change), and there is no pivot_root: a plain chroot. */

static int mount_log_fd = -1;

int op_mount_log(const struct rec *r)
{
	/* mount_log PATH (stage 0, so that the file is opened as berth-oci's user, before any setns) */
	mount_log_fd = open(r->a[0], O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	return mount_log_fd < 0 ? -1 : 0;
}

/* The mount id of the mount `fd` is on when `fd` is that mount's root, else 0. */
static uint64_t mount_root_id(int fd)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
		return 0;
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? stx.stx_mnt_id : 0;
}

/* The mount whose root `path` (resolved in the root) is, or 0: missing, or a plain directory. */
static uint64_t top_mount_in_root(const char *path)
{
	if (mount_log_fd < 0)
		return 0;
	int e = errno;
	int fd = openat2_in_root(path, O_PATH);
	uint64_t id = fd < 0 ? 0 : mount_root_id(fd);
	if (fd >= 0)
		close(fd);
	errno = e;
	return id;
}

/* After a mount step on `path` that returned `rc`: a mount rooted there that was not there before
 * is ours (also when a later part of the step failed, e.g. the remount of a bind): log it. If it
 * cannot be logged, detach it now, since nobody could find it later. Keeps the step's errno. */
static int log_new_mount(const char *path, uint64_t before, int rc)
{
	if (mount_log_fd < 0)
		return rc;
	int e = errno;
	uint64_t after = top_mount_in_root(path);
	if (after && after != before) {
		char line[4200];
		int n = snprintf(line, sizeof(line), "%llu\t%s\n", (unsigned long long)after, path);
		if (n < 0 || n >= (int)sizeof(line) || write(mount_log_fd, line, (size_t)n) != n) {
			int we = errno;
			int fd = openat2_in_root(path, O_PATH);
			if (fd >= 0) {
				char self[64];
				fdpath(fd, self, sizeof(self));
				umount2(self, MNT_DETACH);
				close(fd);
			}
			errno = we ? we : EIO;
			return -1;
		}
	}
	errno = e;
	return rc;
}

int op_mount(const struct rec *r)
{
	uint64_t before = top_mount_in_root(r->a[1]);
	return log_new_mount(r->a[1], before, mount_record(r));
}

int op_root_dir(const struct rec *r)
{
	/* root_dir PATH: the root, as op_rootfs sets it, without binding it onto itself (which in the
	 * host's mount namespace would be one more mount on the host, for no pivot_root to need) */
	snprintf(rootpath, sizeof(rootpath), "%s", r->a[0]);
	rootfd = open(rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

int op_chroot_dir(const struct rec *r)
{
	/* chroot_dir: chroot into the root set by root_dir; no mount moves (op_chroot would move the
	 * rootfs over the host's "/") */
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return -1;
	close(rootfd);
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

int op_umount_mnt(const struct rec *r)
{
	/* umount_mnt PATH ID: unmount mount ID, whose mount point /proc/self/mountinfo names PATH;
	 * only if PATH still reaches that very mount (a mount stacked on it since is not ours to
	 * remove). A mount the container made under it keeps it busy: then detach the whole tree. */
	const char *path = r->a[0];
	uint64_t want = arg_ull(r, 1);
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		die("umount_mnt", errno, "%s (mount %llu)", path, (unsigned long long)want);
	}
	uint64_t got = mount_root_id(fd);
	close(fd);
	if (got != want)
		die("umount_mnt", 0, "%s: mount %llu is covered by %s%llu, mounted on it after berth-oci's", path,
		    (unsigned long long)want, got ? "mount " : "", (unsigned long long)got);
	/* by path, not through the fd: an open fd, even O_PATH, keeps the mount busy */
	if (umount2(path, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY && umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) == 0)
		return 0;
	die("umount_mnt", errno, "%s (mount %llu)", path, (unsigned long long)want);
}

/* tmpcopyup (podman --read-only and friends): a tmpfs over a directory of the image that starts
 * with that directory's contents. The tmpfs is made detached (fsopen/fsmount), filled through
 * fds (never following a symlink of the image), then moved onto the directory. */
#include "init.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int copy_file(int sfd, int dfd)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(sfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dfd, buf + off, (size_t)(n - off));
			if (w < 0)
				return -1;
			off += w;
		}
	}
}

static int copy_tree(int src, int dst, int depth)
{
	if (depth > 64) {
		errno = ELOOP;
		return -1;
	}
	int dupfd = dup(src);
	if (dupfd < 0)
		return -1;
	DIR *d = fdopendir(dupfd);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -1;
			break;
		}
		mode_t perm = st.st_mode & 07777;
		if (S_ISDIR(st.st_mode)) {
			int s = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s < 0 || mkdirat(dst, e->d_name, 0700) < 0) {
				rc = -1;
				if (s >= 0)
					close(s);
				break;
			}
			int t = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = t < 0 ? -1 : copy_tree(s, t, depth + 1);
			if (rc == 0)
				rc = fchown(t, st.st_uid, st.st_gid) < 0 || fchmod(t, perm) < 0 ? -1 : 0;
			close(s);
			if (t >= 0)
				close(t);
		} else if (S_ISREG(st.st_mode)) {
			int s = openat(src, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int t = openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			rc = (s < 0 || t < 0) ? -1 : copy_file(s, t);
			if (rc == 0)
				rc = fchown(t, st.st_uid, st.st_gid) < 0 || fchmod(t, perm) < 0 ? -1 : 0;
			if (s >= 0)
				close(s);
			if (t >= 0)
				close(t);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(src, e->d_name, target, sizeof(target) - 1);
			if (n < 0)
				rc = -1;
			else {
				target[n] = 0;
				rc = symlinkat(target, dst, e->d_name) < 0 ||
				     fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
			}
		} else {
			rc = mknodat(dst, e->d_name, st.st_mode, st.st_rdev) < 0 ||
			     fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
		}
	}
	int err = errno;
	closedir(d);
	errno = err;
	return rc;
}

/* dirfd: the directory to copy (and cover), targetfd: an O_PATH fd of it, target: its
 * /proc/self/fd path (for the read-only remount); flags, data: of the tmpfs */
int tmpcopyup_mount(int dirfd, int targetfd, const char *target, unsigned long flags, const char *data)
{
	int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	char opts[4096];
	snprintf(opts, sizeof(opts), "%s", data);
	for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		int rc;
		if (eq) {
			*eq = 0;
			rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, tok, eq + 1, 0);
		} else {
			rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, tok, NULL, 0);
		}
		if (rc < 0) {
			int e = errno;
			close(fs);
			errno = e;
			return -1;
		}
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "tmpfs", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -1;
	unsigned int attrs = 0;
	if (flags & MS_NOSUID)
		attrs |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		attrs |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		attrs |= MOUNT_ATTR_NOEXEC;
	int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
	close(fs);
	if (mnt < 0)
		return -1;
	struct stat st;
	/* fsmount gives an O_PATH fd: open the new root for real to fill it */
	int root = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int src = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || src < 0 || fstat(src, &st) < 0 || copy_tree(src, root, 0) < 0)
		return -1;
	if (fchown(root, st.st_uid, st.st_gid) < 0 || fchmod(root, st.st_mode & 07777) < 0)
		return -1;
	close(src);
	close(root);
	if (syscall(SYS_move_mount, mnt, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -1;
	close(mnt);
	if (flags & MS_RDONLY)
		return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL);
	return 0;
}

/* Layer unpacking: what Node cannot do while extracting an image layer (src/image/unpack/extract.ts).
 * Every path is resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS) against the layer
 * root, so a symlink planted by the layer cannot lead these records outside it.
 *   mknod_at ROOT REL MODE DEV UID GID   MODE includes the file type bits; an existing non-dir at REL is replaced
 *   setxattr_at ROOT REL NAME HEX        the value hex-encoded (binary-safe); REL itself is not followed */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static const unsigned long long RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

static int open_in_root(const char *op, const char *root, const char *rel, unsigned long long flags)
{
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die(op, errno, "layer root %s", root);
	struct open_how how = { .flags = flags | O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE };
	int fd = openat2_retry(rootfd, rel, &how);
	int e = errno;
	close(rootfd);
	errno = e;
	return fd;
}

int op_mknod_at(const struct rec *r)
{
	const char *root = r->a[0], *rel = r->a[1];
	char dir[4096];
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		die("mknod_at", 0, "%s in %s: not a name for a node", rel, root);
	if (slash) {
		if ((size_t)(slash - rel) >= sizeof(dir))
			die("mknod_at", ENAMETOOLONG, "%s in %s", rel, root);
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = 0;
	} else {
		strcpy(dir, ".");
	}
	int parent = open_in_root("mknod_at", root, dir, O_DIRECTORY);
	if (parent < 0)
		die("mknod_at", errno, "%s in %s: opening its directory (a symlink or a non-directory on the way?)", rel, root);
	mode_t mode = (mode_t)arg_ull(r, 2);
	dev_t dev = (dev_t)arg_ull(r, 3);
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) && unlinkat(parent, name, 0) < 0)
		die("mknod_at", errno, "%s in %s: removing the existing entry", rel, root);
	if (mknodat(parent, name, mode, dev) < 0)
		die("mknod_at", errno, "%s in %s: mknod", rel, root);
	if (fchownat(parent, name, (uid_t)arg_ll(r, 4), (gid_t)arg_ll(r, 5), AT_SYMLINK_NOFOLLOW) < 0)
		die("mknod_at", errno, "%s in %s: chown", rel, root);
	/* the node was just created by us in a directory we hold: fchmodat cannot be redirected */
	if (fchmodat(parent, name, mode & 07777, 0) < 0)
		die("mknod_at", errno, "%s in %s: chmod", rel, root);
	close(parent);
	return 0;
}

int op_setxattr_at(const struct rec *r)
{
	const char *root = r->a[0], *rel = r->a[1], *name = r->a[2], *hex = r->a[3];
	size_t hl = strlen(hex);
	if (hl % 2)
		die("setxattr_at", 0, "%s in %s: xattr %s: odd-length hex value", rel, root, name);
	unsigned char *val = malloc(hl / 2 + 1);
	if (!val)
		die("setxattr_at", ENOMEM, "allocating");
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			die("setxattr_at", 0, "%s in %s: xattr %s: bad hex value", rel, root, name);
		val[i] = (unsigned char)(hi << 4 | lo);
	}
	/* O_PATH|O_NOFOLLOW: the final component itself, even a symlink or a device (never opened) */
	int fd = open_in_root("setxattr_at", root, rel, O_NOFOLLOW);
	if (fd < 0)
		die("setxattr_at", errno, "%s in %s: opening it (a symlink or a non-directory on the way?)", rel, root);
	/* an O_PATH fd takes no fsetxattr: go through its /proc magic link, which lands on the
	 * inode the fd holds and does not follow it further */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (setxattr(path, name, val, hl / 2, 0) < 0)
		die("setxattr_at", errno, "%s in %s: setting xattr %s", rel, root, name);
	close(fd);
	free(val);
	return 0;
}

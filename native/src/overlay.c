/* Overlay mounts of image layers for bundles on disk (src/image/bundle/overlay.ts), run as one-off
 * plans in berth-init's own (the host's) mount namespace:
 *   overlay_mount TARGET UPPER WORK LOWER1 [LOWER2 ...]   lowers top-most first, as overlayfs wants
 *   umount TARGET                                         fails (EBUSY) while the mount is in use
 * The new mount API is used so the number of layers is not capped by the one-page limit of
 * mount(2)'s data: every lower layer is its own fsconfig(FSCONFIG_SET_STRING, "lowerdir+")
 * (Linux >= 6.8). A failing fsconfig is reported with the kernel's own message, read from the
 * filesystem context's log. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* the last message the kernel logged in the fs context ("e overlay: ..."), or "" */
static const char *fs_log(int fsfd, char *buf, size_t size)
{
	buf[0] = 0;
	for (;;) {
		ssize_t n = read(fsfd, buf, size - 1);
		if (n <= 0)
			break;
		buf[n] = 0;
	}
	size_t len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return buf;
}

static _Noreturn void die_fs(int fsfd, int err, const char *target, const char *step)
{
	char log[1024];
	fs_log(fsfd, log, sizeof(log));
	/* overlayfs reports some checks (e.g. upper and work dirs overlapping) only to the kernel log */
	die("overlay_mount", err, "%s: %s%s%s", target, step, log[0] ? ": kernel says: " : " (no message in the fs context; the kernel log may say why)", log);
}

static void set_string(int fsfd, const char *target, const char *key, const char *value)
{
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0) < 0) {
		char step[4200];
		snprintf(step, sizeof(step), "fsconfig %s=%s", key, value);
		die_fs(fsfd, errno, target, step);
	}
}

int op_overlay_mount(const struct rec *r)
{
	if (r->n < 4)
		die("overlay_mount", 0, "needs TARGET UPPER WORK and at least one lower dir, got %d arguments", r->n);
	const char *target = r->a[0];
	int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		die("overlay_mount", errno, "%s: fsopen(\"overlay\") (is the overlay module available?)", target);
	for (int i = 3; i < r->n; i++)
		set_string(fsfd, target, "lowerdir+", r->a[i]);
	set_string(fsfd, target, "upperdir", r->a[1]);
	set_string(fsfd, target, "workdir", r->a[2]);
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		die_fs(fsfd, errno, target, "creating the overlay superblock (FSCONFIG_CMD_CREATE)");
	int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		die_fs(fsfd, errno, target, "fsmount");
	close(fsfd);
	if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("overlay_mount", errno, "%s: move_mount onto the target", target);
	close(mfd);
	return 0;
}

int op_umount(const struct rec *r)
{
	if (umount2(r->a[0], UMOUNT_NOFOLLOW) < 0) {
		int e = errno;
		die("umount", e, "%s%s", r->a[0], e == EBUSY ? " (still in use: a process has its cwd, an open file or a mount under it)"
		    : e == EINVAL ? " (not a mount point)" : "");
	}
	return 0;
}

/* The sync socket: short text lines between berth-oci and this helper. */
#include "init.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int sync_fd = -1;

/* Once `ready` has closed the sync socket, a failure before execve is reported in this page: a
 * file of the container's state directory (exec.status), mapped shared in stage 0 and inherited
 * by the init, which `start` reads when the exec fifo has closed. Writing it is a memory store,
 * not a syscall, so it works even after the seccomp filter is loaded; execve drops the mapping,
 * so an empty page at the fifo's EOF means the user's program replaced the init. */
#define STATUS_SIZE 4096
static char *status_page;

int status_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	void *p = MAP_FAILED;
	if (ftruncate(fd, STATUS_SIZE) == 0)
		p = mmap(NULL, STATUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		errno = e;
		return -1;
	}
	status_page = p;
	/* fault the page in now, so that the report cannot need memory the cgroup might refuse */
	*(volatile char *)status_page = 0;
	return 0;
}

static void status_report(const char *msg)
{
	if (!status_page || sync_fd >= 0)
		return;
	size_t n = strnlen(msg, STATUS_SIZE - 1);
	memcpy(status_page, msg, n);
	status_page[n] = 0;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void sync_send(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (sync_fd >= 0)
		write_all(sync_fd, buf, (size_t)n);
}

/* binary data (a compiled seccomp program: up to 32 KiB) is too long for sync_send's buffer */
void sync_send_hex(const char *kind, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t kl = strlen(kind);
	char *buf = malloc(kl + 2 * len + 2);
	if (!buf)
		die("sync", ENOMEM, "sending %s", kind);
	memcpy(buf, kind, kl);
	buf[kl] = '\t';
	char *p = buf + kl + 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = ((const unsigned char *)data)[i];
		*p++ = digits[c >> 4];
		*p++ = digits[c & 15];
	}
	*p++ = '\n';
	if (sync_fd >= 0)
		write_all(sync_fd, buf, (size_t)(p - buf));
	free(buf);
}

static char rbuf[1 << 16];
static size_t rlen, rstart;

int sync_readline(char **line)
{
	for (;;) {
		char *nl = memchr(rbuf + rstart, '\n', rlen - rstart);
		if (nl) {
			*nl = 0;
			*line = rbuf + rstart;
			int len = (int)(nl - (rbuf + rstart));
			rstart = (size_t)(nl - rbuf) + 1;
			return len;
		}
		if (rstart > 0) {
			memmove(rbuf, rbuf + rstart, rlen - rstart);
			rlen -= rstart;
			rstart = 0;
		}
		if (rlen >= sizeof(rbuf) - 1)
			return -1;
		ssize_t n = read(sync_fd, rbuf + rlen, sizeof(rbuf) - 1 - rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		rlen += (size_t)n;
	}
}

/* Report a failure to berth-oci (or to stderr once the sync socket is closed) and exit. */
_Noreturn void die(const char *op, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	/* first the report, which needs no syscall: what follows may be denied by a seccomp filter */
	char report[STATUS_SIZE];
	snprintf(report, sizeof(report), "%s: %s%s%s", op, msg, err ? ": " : "", err ? strerror(err) : "");
	status_report(report);
	trace_note("error", now_ns(), now_ns(), msg);
	trace_flush();
	if (sync_fd >= 0)
		sync_send("error\t%s\t%d\t%s%s%s", op, err, msg, err ? ": " : "", err ? strerror(err) : "");
	else
		dprintf(2, "berth-init: %s: %s%s%s\n", op, msg, err ? ": " : "", err ? strerror(err) : "");
	_exit(127);
}

/* A record failed: berth-oci knows the plan, so the index is enough for it to explain which
 * step failed and with what values. */
_Noreturn void die_record(int index, const char *op, int err)
{
	char report[256];
	snprintf(report, sizeof(report), "step %d of the plan (%s): %s", index, op, strerror(err));
	status_report(report);
	char note[64];
	snprintf(note, sizeof(note), "record %d", index);
	trace_note("error", now_ns(), now_ns(), note);
	trace_flush();
	if (sync_fd >= 0)
		sync_send("fail\t%d\t%d\t%s", index, err, strerror(err));
	else
		dprintf(2, "berth-init: %s\n", report);
	_exit(127);
}

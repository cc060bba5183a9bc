/* Creation trace: one tab-separated line per executed plan record, buffered in memory and written
 * to the container's trace file at a few points (ready, release, exec, error) so that recording
 * costs a handful of writes per container. */
#include "init.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int tfd = -1;
static char tbuf[1 << 16];
static size_t tlen;
/* set once the seccomp filter is loaded: from then on nothing is recorded, not even the time
 * (clock_gettime may be a real syscall where the vDSO cannot read the clock), because nothing
 * but execve may run under the user's filter */
static int sealed;
static uint64_t last_ns;

uint64_t now_ns(void)
{
	if (sealed)
		return last_ns;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void trace_seal(void)
{
	trace_flush();
	sealed = 1;
}

void trace_open(const char *path)
{
	tfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int trace_fd(void)
{
	return tfd;
}

static void put(const char *s)
{
	size_t n = strlen(s);
	if (tlen + n + 1 >= sizeof(tbuf))
		trace_flush();
	if (n >= sizeof(tbuf))
		return;
	memcpy(tbuf + tlen, s, n);
	tlen += n;
}

static void put_clean(const char *s)
{
	char tmp[1024];
	size_t i = 0;
	for (; s[i] && i < sizeof(tmp) - 1; i++)
		tmp[i] = (s[i] == '\t' || s[i] == '\n') ? ' ' : s[i];
	tmp[i] = 0;
	put(tmp);
}

void trace_rec(const struct rec *r, uint64_t t0, uint64_t t1, long result)
{
	if (tfd < 0 || sealed)
		return;
	char head[128];
	snprintf(head, sizeof(head), "%s\t%llu\t%llu\t%ld", r->op, (unsigned long long)t0,
		 (unsigned long long)t1, result);
	put(head);
	/* a cached seccomp program is named by its key and size: its kilobytes of hex would say nothing */
	int n = strcmp(r->op, "seccomp_program") ? r->n : 2;
	for (int i = 0; i < n && i < 12; i++) {
		put("\t");
		put_clean(r->a[i]);
	}
	put("\n");
}

void trace_note(const char *step, uint64_t t0, uint64_t t1, const char *detail)
{
	if (tfd < 0 || sealed)
		return;
	char head[128];
	snprintf(head, sizeof(head), "%s\t%llu\t%llu\t0\t", step, (unsigned long long)t0, (unsigned long long)t1);
	put(head);
	put_clean(detail);
	put("\n");
}

void trace_flush(void)
{
	if (tfd >= 0 && tlen > 0 && !sealed) {
		ssize_t n = write(tfd, tbuf, tlen);
		(void)n;
	}
	tlen = 0;
}

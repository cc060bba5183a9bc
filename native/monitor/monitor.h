/* berth-monitor: the per-container process that outlives berthd. It is the parent (subreaper) of
 * the container's init, holds its stdio, writes docker's json-file log, serves attach and control
 * sockets and records the exit status. It decides nothing: every path and limit is a flag. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* docker's copier buffer: a line longer than this is logged in pieces of this size */
#define LINE_MAX_BYTES (16 * 1024)

/* log.c: docker's json-file driver */
struct jlog {
	const char *path;
	int fd;
	long long size;     /* bytes in the current file */
	long long max_size; /* rotate once the file reaches it; -1: never */
	int max_file;       /* files kept, the current one included */
};
int jlog_open(struct jlog *l);
/* one entry; `newline` appends "\n" to the text as docker does for complete lines */
void jlog_write(struct jlog *l, const char *stream, const char *text, size_t len, int newline, const struct timespec *ts);

/* RFC 3339 with nanoseconds, UTC, trailing zeros of the fraction trimmed (Go's time.RFC3339Nano) */
size_t format_time(char *out, const struct timespec *ts);

/* docker's JSON string escaping (its ffjson writer): "\"", "\\", \n, \r short; other control
 * characters and < > & as \u00XX; U+2028/U+2029 escaped; each invalid UTF-8 byte as \ufffd */
size_t json_escape(char *out, const unsigned char *s, size_t len, size_t *consumed, size_t room);

#endif

/* docker's json-file log: one JSON object per line, written and rotated the way dockerd's
 * jsonfilelog driver (20.10) does it, so that `docker logs` semantics hold for what berthd reads. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char hexd[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (Go's utf8.DecodeRune rules: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if the byte at s starts none. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char b = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;
	if (b >= 0xC2 && b <= 0xDF)
		n = 2;
	else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

size_t json_escape(char *out, const unsigned char *s, size_t len, size_t *consumed, size_t room)
{
	size_t o = 0, i = 0;
	while (i < len && room - o >= 6) {
		unsigned char b = s[i];
		if (b < 0x80) {
			if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
				out[o++] = (char)b;
			} else if (b == '\\' || b == '"') {
				out[o++] = '\\';
				out[o++] = (char)b;
			} else if (b == '\n') {
				out[o++] = '\\';
				out[o++] = 'n';
			} else if (b == '\r') {
				out[o++] = '\\';
				out[o++] = 'r';
			} else {
				memcpy(out + o, "\\u00", 4);
				out[o + 4] = hexd[b >> 4];
				out[o + 5] = hexd[b & 15];
				o += 6;
			}
			i++;
			continue;
		}
		size_t n = utf8_len(s + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (n == 3 && b == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
			memcpy(out + o, "\\u202", 5);
			out[o + 5] = s[i + 2] == 0xA8 ? '8' : '9';
			o += 6;
			i += 3;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	*consumed = i;
	return o;
}

/* days since 1970-01-01 to a civil date (Howard Hinnant's algorithm): no libc time zone code */
static void civil(long long days, int *y, int *m, int *d)
{
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

size_t format_time(char *out, const struct timespec *ts)
{
	long long secs = (long long)ts->tv_sec;
	long long days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int y, mo, d;
	civil(days, &y, &mo, &d);
	int n = snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	long ns = ts->tv_nsec;
	if (ns > 0) {
		char frac[9];
		for (int i = 8; i >= 0; i--, ns /= 10)
			frac[i] = (char)('0' + ns % 10);
		int k = 9;
		while (k > 0 && frac[k - 1] == '0')
			k--;
		out[n++] = '.';
		memcpy(out + n, frac, (size_t)k);
		n += k;
	}
	out[n++] = 'Z';
	out[n] = 0;
	return (size_t)n;
}

int jlog_open(struct jlog *l)
{
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -1;
	struct stat st;
	if (fstat(l->fd, &st) < 0)
		return -1;
	l->size = st.st_size;
	return 0;
}

/* dockerd's rotate(): NAME.(N-1) goes, NAME.i -> NAME.(i+1), NAME -> NAME.1, a new NAME.
 * With max-file 1 the one file is truncated instead. Errors leave the current file in use. */
static void rotate(struct jlog *l)
{
	char from[4096], to[4096];
	if (l->max_file >= 2) {
		snprintf(to, sizeof(to), "%s.%d", l->path, l->max_file - 1);
		if (unlink(to) < 0 && errno != ENOENT)
			return;
		for (int i = l->max_file - 1; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%d", l->path, i - 1);
			snprintf(to, sizeof(to), "%s.%d", l->path, i);
			if (rename(from, to) < 0 && errno != ENOENT)
				return;
		}
		snprintf(to, sizeof(to), "%s.1", l->path);
		if (rename(l->path, to) < 0 && errno != ENOENT)
			return;
	}
	int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	close(l->fd);
	l->fd = fd;
	l->size = 0;
}

static void write_all(int fd, const char *b, size_t n, long long *count)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses log lines, never the container */
		b += w;
		n -= (size_t)w;
		*count += w;
	}
}

/* small and reused: a long entry goes out in several writes rather than needing 6x its size */
static char obuf[8192];

void jlog_write(struct jlog *l, const char *stream, const char *text, size_t len, int newline, const struct timespec *ts)
{
	if (l->fd < 0)
		return;
	/* docker checks the size before each entry: a file ends at most one entry past max-size */
	if (l->max_size > 0 && l->size >= l->max_size)
		rotate(l);
	size_t o = 0;
	memcpy(obuf, "{\"log\":\"", 8);
	o = 8;
	const unsigned char *p = (const unsigned char *)text;
	size_t left = len;
	while (left > 0) {
		size_t used;
		o += json_escape(obuf + o, p, left, &used, sizeof(obuf) - 128 - o);
		p += used;
		left -= used;
		if (left > 0) {
			write_all(l->fd, obuf, o, &l->size);
			o = 0;
		}
	}
	if (newline) {
		memcpy(obuf + o, "\\n", 2);
		o += 2;
	}
	o += (size_t)snprintf(obuf + o, 64, "\",\"stream\":\"%s\",\"time\":\"", stream);
	o += format_time(obuf + o, ts);
	memcpy(obuf + o, "\"}\n", 3);
	o += 3;
	write_all(l->fd, obuf, o, &l->size);
}

/* Reads the plan: "<length>\n" then <length> bytes of NUL-terminated tokens. */
#include "init.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_full(int fd, char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int plan_read(int fd, struct plan *p)
{
	char hdr[32];
	size_t i = 0;
	/* the header is short: read it a byte at a time so that nothing after it is consumed */
	while (i < sizeof(hdr) - 1) {
		if (read_full(fd, hdr + i, 1) < 0)
			return -1;
		if (hdr[i] == '\n')
			break;
		i++;
	}
	hdr[i] = 0;
	char *end;
	unsigned long len = strtoul(hdr, &end, 10);
	if (*end || len == 0 || len > (64u << 20))
		return -1;
	char *buf = malloc(len + 1);
	if (!buf || read_full(fd, buf, len) < 0)
		return -1;
	buf[len] = 0;
	if (buf[len - 1] != 0)
		return -1;

	/* count tokens to size the index */
	size_t ntok = 0;
	for (size_t k = 0; k < len; k++)
		if (!buf[k])
			ntok++;
	char **tok = malloc(ntok * sizeof(char *));
	struct rec *recs = malloc(ntok * sizeof(struct rec));
	if (!tok || !recs)
		return -1;
	size_t t = 0;
	for (char *s = buf; s < buf + len; s += strlen(s) + 1)
		tok[t++] = s;

	int nrecs = 0;
	for (size_t k = 0; k < ntok;) {
		if (k + 1 >= ntok)
			return -1;
		long n = strtol(tok[k + 1], &end, 10);
		if (*end || n < 0 || k + 2 + (size_t)n > ntok)
			return -1;
		recs[nrecs].op = tok[k];
		recs[nrecs].n = (int)n;
		recs[nrecs].a = tok + k + 2;
		nrecs++;
		k += 2 + (size_t)n;
	}
	p->recs = recs;
	p->nrecs = nrecs;
	return 0;
}

long long arg_ll(const struct rec *r, int i)
{
	return i < r->n ? strtoll(r->a[i], NULL, 0) : 0;
}

unsigned long long arg_ull(const struct rec *r, int i)
{
	return i < r->n ? strtoull(r->a[i], NULL, 0) : 0;
}

/* one hex digit's value, or -1: plan records carry binary data (BPF programs, xattrs) as hex */
int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

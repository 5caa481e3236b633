/*
 * The appliance's kernel unpacked for a PVH boot: the bzImage header,
 * the ELF checks, and the whole replacement on synthetic kernels (a
 * small ELF packed by a gzip stream of stored blocks, made here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pvh.h"

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* An x86-64 ELF executable of *LEN bytes: a load segment over it all and
 * a note segment with a first note, then one of type NOTE (18: PVH). */
static unsigned char *
make_elf(uint32_t note, size_t *len)
{
	size_t n = 64 + 2 * 56 + 12 + 4 + 8 + 12 + 4 + 4;
	unsigned char *b = calloc(1, n), *ph, *nt;

	assert_non_null(b);
	memcpy(b, "\x7f" "ELF", 4);
	b[4] = 2;			/* 64-bit */
	b[5] = 1;			/* little-endian */
	b[6] = 1;
	put16(b + 16, 2);		/* ET_EXEC */
	put16(b + 18, 62);		/* x86-64 */
	put32(b + 20, 1);
	put64(b + 32, 64);		/* e_phoff */
	put16(b + 52, 64);
	put16(b + 54, 56);
	put16(b + 56, 2);
	ph = b + 64;
	put32(ph, 1);			/* PT_LOAD */
	put64(ph + 8, 0);
	put64(ph + 32, n);
	ph += 56;
	put32(ph, 4);			/* PT_NOTE */
	put64(ph + 8, 64 + 2 * 56);
	put64(ph + 32, n - (64 + 2 * 56));
	nt = b + 64 + 2 * 56;
	put32(nt, 4);			/* "Xen", "linux" (padded), type 6 */
	put32(nt + 4, 6);
	put32(nt + 8, 6);
	memcpy(nt + 12, "Xen", 4);
	memcpy(nt + 16, "linux", 6);
	nt += 12 + 4 + 8;
	put32(nt, 4);
	put32(nt + 4, 4);
	put32(nt + 8, note);
	memcpy(nt + 12, "Xen", 4);
	put32(nt + 16, 0x1000850);
	*len = n;
	return b;
}

static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* A bzImage (protocol 2.15, one setup sector) whose payload is DATA
 * packed as gzip (one stored deflate block), then SIZE as the build
 * appends it; its length in *LEN. */
static unsigned char *
make_bzimage(const unsigned char *data, size_t n, uint32_t size, size_t *len)
{
	size_t plen = 10 + 5 + n + 8 + 4, off = 2 * 512 + 0x40;
	unsigned char *b = calloc(1, off + plen + 100), *p;

	assert_non_null(b);
	assert_true(n < 65536);
	b[0x1f1] = 1;
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	put32(b + 0x248, 0x40);
	put32(b + 0x24c, (uint32_t)plen);
	p = b + off;
	memcpy(p, "\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);
	p[10] = 1;			/* the last block, stored */
	put16(p + 11, (uint16_t)n);
	put16(p + 13, (uint16_t)~n);
	memcpy(p + 15, data, n);
	put32(p + 15 + n, crc32_of(data, n));
	put32(p + 19 + n, (uint32_t)n);
	put32(p + 23 + n, size);
	*len = off + plen + 100;
	return b;
}

static void
test_elf(void **state)
{
	unsigned char *e;
	char why[256];
	size_t n;

	(void)state;
	e = make_elf(18, &n);
	assert_int_equal(pvh_elf(e, n, why, sizeof(why)), 1);
	/* Cut short: the segments go past its end. */
	assert_int_equal(pvh_elf(e, n - 1, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "past its end"));
	assert_int_equal(pvh_elf(e, 100, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "program headers"));
	/* A note whose name length runs past the segment. */
	put32(e + 64 + 2 * 56, 0xfffffff0u);
	assert_int_equal(pvh_elf(e, n, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no PVH entry"));
	free(e);
	e = make_elf(17, &n);
	assert_int_equal(pvh_elf(e, n, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no PVH entry"));
	e[18] = 3;			/* i386 */
	assert_int_equal(pvh_elf(e, n, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "not an x86-64"));
	free(e);
}

static void
test_payload(void **state)
{
	unsigned char *e, *b;
	const char *tool;
	char why[256];
	size_t n, len, off, plen;
	uint32_t size;

	(void)state;
	e = make_elf(18, &n);
	b = make_bzimage(e, n, (uint32_t)n, &len);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), 0);
	assert_int_equal(off, 2 * 512 + 0x40);
	assert_int_equal(plen, 10 + 5 + n + 12);
	assert_int_equal(size, n);
	assert_string_equal(tool, "gzip");
	/* Packed another way: xz's magic. */
	memcpy(b + off, "\xfd" "7zXZ\0", 6);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), 0);
	assert_string_equal(tool, "xz");
	memcpy(b + off, "NOPE", 4);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "not known"));
	/* The payload past the end of the file. */
	put32(b + 0x24c, (uint32_t)len);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "outside"));
	put16(b + 0x206, 0x0207);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "older than 2.08"));
	memcpy(b + 0x202, "HdrZ", 4);
	assert_int_equal(pvh_payload(b, len, &off, &plen, &size, &tool, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "not a bzImage");
	assert_int_equal(pvh_payload(b, 0x100, &off, &plen, &size, &tool, why,
	    sizeof(why)), -1);
	free(b);
	free(e);
}

/* DIR/kernel made of the bzImage of an ELF with note NOTE, the build's
 * recorded size off by SKEW; the ELF's bytes in *ELF, its length *N. */
static void
put_kernel(const char *dir, uint32_t note, int skew, unsigned char **elf,
    size_t *n)
{
	char path[512];
	unsigned char *b;
	size_t len;
	FILE *f;

	*elf = make_elf(note, n);
	b = make_bzimage(*elf, *n, (uint32_t)((int)*n + skew), &len);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
	free(b);
}

static unsigned char *
slurp(const char *dir, const char *name, size_t *n)
{
	char path[512];
	unsigned char *b = malloc(1 << 16);
	FILE *f;

	assert_non_null(b);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "r"));
	*n = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static void
rm_dir(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/kernel", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kernel.bzimage-only", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_replace(void **state)
{
	char dir[] = "/tmp/test_pvh.XXXXXX", why[256];
	unsigned char *elf, *got;
	size_t n, m;

	(void)state;
	assert_non_null(mkdtemp(dir));
	put_kernel(dir, 18, 0, &elf, &n);
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), 2);
	got = slurp(dir, "kernel", &m);
	assert_int_equal(m, n);
	assert_memory_equal(got, elf, n);
	free(got);
	/* Done before: left as it is. */
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), 1);
	free(elf);
	rm_dir(dir);
}

static void
test_kept(void **state)
{
	char dir[] = "/tmp/test_pvh.XXXXXX", why[256], path[512];
	unsigned char *elf, *got;
	struct stat st;
	size_t n, m;

	(void)state;
	/* No PVH entry: kept, and the reason recorded. */
	assert_non_null(mkdtemp(dir));
	put_kernel(dir, 17, 0, &elf, &n);
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no PVH entry"));
	got = slurp(dir, "kernel", &m);
	assert_true(m > n && memcmp(got, "\x7f" "ELF", 4) != 0);
	free(got);
	snprintf(path, sizeof(path), "%s/kernel.bzimage-only", dir);
	assert_int_equal(stat(path, &st), 0);
	/* Not tried again: the same reason, from the record. */
	why[0] = '\0';
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "no PVH entry"));
	free(elf);
	rm_dir(dir);

	/* Unpacked to another size than the build recorded. */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/test_pvh.XXXXXX")));
	put_kernel(dir, 18, 8, &elf, &n);
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "the build recorded"));
	got = slurp(dir, "kernel", &m);
	assert_true(memcmp(got, "\x7f" "ELF", 4) != 0);
	free(got);
	free(elf);
	rm_dir(dir);

	/* No kernel at all: an error. */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/test_pvh.XXXXXX")));
	assert_int_equal(pvh_appliance_kernel(dir, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "kernel"));
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

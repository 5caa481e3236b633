/* Scanner records: what the root side's decoder accepts, and everything it
 * must refuse or clean, one case each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "srec.h"

static struct srec_result result;
static struct srec_scan scan;
static struct srec_ready ready, q_ready;

static int
decode(const struct srec_buf *b, struct srec *r, char *err)
{
	r->scan = &scan;
	r->result = &result;
	r->ready = &ready;
	r->own = NULL;
	return srec_decode(b->b, b->len, r, err, 256);
}

static uint8_t drive;		/* what detection() gives */

static void
detection(struct srec_buf *b, const char *path, size_t len, const char *sig,
    uint8_t engine)
{
	srec_start(b, SR_DETECTION);
	srec_str(b, "/dev/sda");
	srec_u8(b, 1);
	srec_u8(b, drive);
	srec_bytes(b, path, len);
	srec_str(b, sig);
	srec_u8(b, engine);
	srec_u64(b, 68);
}

static void
test_detection(void **state)
{
	static struct srec_buf b;
	struct srec r;
	char err[256], path[SREC_PATH_MAX + 2];

	(void)state;
	/* Paths are bytes: a newline and 0xff pass as they are. */
	detection(&b, "/a\n\xff", 4, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.type, SR_DETECTION);
	assert_int_equal(r.pathlen, 4);
	assert_memory_equal(r.path, "/a\n\xff", 5);
	assert_string_equal(r.name, "Eicar");
	assert_int_equal(r.n[0], 68);
	assert_int_equal(r.drive, 0);
	/* A Windows drive letter, A to Z; nothing else. */
	drive = 'C';
	detection(&b, "/x.exe", 6, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.drive, 'C');
	drive = 'c';
	detection(&b, "/x.exe", 6, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), -1);
	drive = 1;
	detection(&b, "/x.exe", 6, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), -1);
	drive = 0;
	/* A signature name is text: an ESC cannot reach a terminal. */
	detection(&b, "/x", 2, "a\033[31mb", 1);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_string_equal(r.name, "a?[31mb");
	/* Nor a C1 CSI as UTF-8 writes it (U+009B); other UTF-8 stays. */
	detection(&b, "/x", 2, "a\xc2\x9b" "2Jb\xc3\xa9\xc2\xa0", 1);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_string_equal(r.name, "a??2Jb\xc3\xa9\xc2\xa0");
	/* A NUL inside a path, an empty signature, an engine out of range. */
	detection(&b, "/a\0b", 4, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), -1);
	detection(&b, "/x", 2, "", 0);
	assert_int_equal(decode(&b, &r, err), -1);
	detection(&b, "/x", 2, "Eicar", 2);
	assert_int_equal(decode(&b, &r, err), -1);
	/* A path at the bound, and one byte over it. */
	memset(path, 'a', sizeof(path));
	detection(&b, path, SREC_PATH_MAX, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.pathlen, SREC_PATH_MAX);
	detection(&b, path, SREC_PATH_MAX + 1, "Eicar", 0);
	assert_int_equal(decode(&b, &r, err), -1);
	assert_non_null(strstr(err, "path"));
}

static void
test_framing(void **state)
{
	static struct srec_buf b;
	struct srec r;
	char err[256];

	(void)state;
	/* Cut short, bytes left over, an unknown type, nothing at all. */
	detection(&b, "/x", 2, "Eicar", 0);
	b.len -= 3;
	assert_int_equal(decode(&b, &r, err), -1);
	b.len += 3;
	srec_u8(&b, 0);
	assert_int_equal(decode(&b, &r, err), -1);
	assert_non_null(strstr(err, "trailing"));
	srec_start(&b, SR_NTYPES);
	assert_int_equal(decode(&b, &r, err), -1);
	b.len = 0;
	assert_int_equal(decode(&b, &r, err), -1);
	/* A length that claims more than the record holds. */
	srec_start(&b, SR_INDEX_DONE);
	srec_u8(&b, 0xff);
	srec_u8(&b, 0xff);
	assert_int_equal(decode(&b, &r, err), -1);
}

static void
test_ranges(void **state)
{
	static struct srec_buf b;
	struct srec r;
	char err[256];
	struct srec_rec rec;
	static struct srec_scan q;

	(void)state;
	memset(&result, 0, sizeof(result));
	result.status = SREC_NSTATUS;
	srec_start(&b, SR_RESULT);
	srec_put_result(&b, &result);
	assert_int_equal(decode(&b, &r, err), -1);
	result.status = 1;
	result.files = 47;
	srec_start(&b, SR_RESULT);
	srec_put_result(&b, &result);
	memset(&result, 0, sizeof(result));
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(result.files, 47);
	/* A skip reason past the last, a log level past 7. */
	srec_start(&b, SR_SKIP);
	srec_u8(&b, SREC_NSKIP);
	srec_str(&b, "/dev/sda");
	srec_bytes(&b, "/x", 2);
	srec_u8(&b, 0);
	srec_str(&b, "");
	assert_int_equal(decode(&b, &r, err), -1);
	/* A skip's path may be on a Windows drive: 'D', not 'd' nor 2. */
	srec_start(&b, SR_SKIP);
	srec_u8(&b, SREC_NSKIP - 1);
	srec_str(&b, "/dev/sda3");
	srec_bytes(&b, "/pagefile.sys", 13);
	srec_u8(&b, 'D');
	srec_str(&b, "memory");
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.engine, 'D');
	for (int bad = 0; bad < 2; bad++) {
		srec_start(&b, SR_SKIP);
		srec_u8(&b, 0);
		srec_str(&b, "/dev/sda3");
		srec_bytes(&b, "/x", 2);
		srec_u8(&b, bad ? 2 : 'd');
		srec_str(&b, "");
		assert_int_equal(decode(&b, &r, err), -1);
	}
	srec_start(&b, SR_LOG);
	srec_u8(&b, 8);
	srec_str(&b, "x");
	assert_int_equal(decode(&b, &r, err), -1);
	/* An index record with its hashes and classes, both ways. */
	memset(&rec, 0, sizeof(rec));
	rec.ino = 5;
	memset(rec.md5, 0x11, sizeof(rec.md5));
	memset(rec.sha1, 0x22, sizeof(rec.sha1));
	rec.classes = 0x4041;
	rec.changed = 0x2000;
	srec_start(&b, SR_INDEX_PUT);
	srec_str(&b, "/dev/sda");
	srec_bytes(&b, "/x", 2);
	srec_put_rec(&b, &rec);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_memory_equal(r.rec.md5, rec.md5, sizeof(rec.md5));
	assert_memory_equal(r.rec.sha1, rec.sha1, sizeof(rec.sha1));
	assert_int_equal(r.rec.classes, 0x4041);
	assert_int_equal(r.rec.changed, 0x2000);
	assert_string_equal(r.rec.found[0], "");
	/* A file found infected: what named it, with control bytes made
	 * harmless as in every text field. */
	snprintf(rec.found[1], sizeof(rec.found[1]), "rule\x1b[2J");
	srec_start(&b, SR_INDEX_PUT);
	srec_str(&b, "/dev/sda");
	srec_bytes(&b, "/x", 2);
	srec_put_rec(&b, &rec);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_string_equal(r.rec.found[0], "");
	assert_string_equal(r.rec.found[1], "rule?[2J");
	/* The engine's sums and allowlist set, and a set past its bound. */
	memset(&ready, 0, sizeof(ready));
	ready.has_sigsum = 1;
	ready.sigsum[3] = 9;
	ready.nallow = SREC_MAX_ALLOW;
	ready.allow[SREC_MAX_ALLOW * 8 - 1] = 7;
	q_ready = ready;
	srec_start(&b, SR_READY);
	srec_put_ready(&b, &q_ready);
	memset(&ready, 0, sizeof(ready));
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(ready.nallow, SREC_MAX_ALLOW);
	assert_int_equal(ready.allow[SREC_MAX_ALLOW * 8 - 1], 7);
	assert_int_equal(ready.sigsum[3], 9);
	q_ready.nallow = SREC_MAX_ALLOW + 1;
	srec_start(&b, SR_READY);
	srec_put_ready(&b, &q_ready);
	assert_int_equal(decode(&b, &r, err), -1);
	/* A clean verdict carries the content's classes. */
	srec_start(&b, SR_CACHE_ADD);
	srec_raw(&b, rec.md5, SREC_SHA_LEN - 16);
	srec_raw(&b, rec.md5, 16);
	srec_u32(&b, 0x4081);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.n[0], 0x4081);
	srec_start(&b, SR_CACHE_A);
	srec_u8(&b, 1);
	assert_int_equal(decode(&b, &r, err), -1);	/* classes missing */
	/* Nanoseconds out of range in an index record. */
	memset(&rec, 0, sizeof(rec));
	rec.mtime_ns = 1000000000;
	srec_start(&b, SR_INDEX_PUT);
	srec_str(&b, "/dev/sda");
	srec_bytes(&b, "/x", 2);
	srec_put_rec(&b, &rec);
	assert_int_equal(decode(&b, &r, err), -1);
	/* A scan request with no disk; a result where none is wanted. */
	memset(&scan, 0, sizeof(scan));
	scan.threads = 1;
	scan.spool = SREC_MIN_SPOOL;
	srec_start(&b, SR_SCAN);
	srec_put_scan(&b, &scan);
	assert_int_equal(decode(&b, &r, err), -1);
	assert_non_null(strstr(err, "disk count"));
	/* Engine threads out of bounds, a spool too small (encoded from
	 * q: decoding fills scan). */
	q = scan;
	q.ndisks = 1;
	snprintf(q.disks[0].path, sizeof(q.disks[0].path), "/run/x");
	snprintf(q.disks[0].format, sizeof(q.disks[0].format), "raw");
	snprintf(q.disks[0].target, sizeof(q.disks[0].target), "vda");
	q.threads = SREC_MAX_THREADS + 1;
	srec_start(&b, SR_SCAN);
	srec_put_scan(&b, &q);
	assert_int_equal(decode(&b, &r, err), -1);
	assert_non_null(strstr(err, "threads"));
	q.threads = SREC_MAX_THREADS;
	srec_start(&b, SR_SCAN);
	srec_put_scan(&b, &q);
	if (decode(&b, &r, err) == -1)
		fail_msg("%s", err);
	assert_int_equal(scan.threads, SREC_MAX_THREADS);
	assert_int_equal(scan.spool, SREC_MIN_SPOOL);
	q.spool = SREC_MIN_SPOOL - 1;
	srec_start(&b, SR_SCAN);
	srec_put_scan(&b, &q);
	assert_int_equal(decode(&b, &r, err), -1);
	assert_non_null(strstr(err, "spool"));
	/* A read grant of no engine thread. */
	srec_start(&b, SR_READ_OK);
	srec_u8(&b, 1);
	srec_u32(&b, 0);
	assert_int_equal(decode(&b, &r, err), -1);
	srec_start(&b, SR_READ_OK);
	srec_u8(&b, 1);
	srec_u32(&b, 2);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.n[0], 2);
	srec_start(&b, SR_RESULT);
	srec_put_result(&b, &result);
	r.scan = NULL;
	r.result = NULL;
	r.ready = NULL;
	r.own = NULL;
	assert_int_equal(srec_decode(b.b, b.len, &r, err, sizeof(err)), -1);
	/* The encoder says when a record would not fit. */
	srec_start(&b, SR_LOG);
	srec_raw(&b, err, SREC_MAX);
	assert_true(b.over);
}

/* A linked clone's records: the base's record beside the guest's own,
 * where a file lies, and the clone's own ranges, each bounded. */
static void
test_clone(void **state)
{
	static struct srec_buf b;
	static struct srec_own own;
	struct srec_rec rec;
	struct srec r;
	char err[256];
	uint32_t i;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.ino = 9;
	rec.has_ext = 1;
	memset(rec.ext, 0x5a, sizeof(rec.ext));
	srec_start(&b, SR_INDEX_A);
	srec_u8(&b, 0);
	srec_u8(&b, 1);
	srec_put_rec(&b, &rec);
	assert_int_equal(decode(&b, &r, err), 0);
	assert_int_equal(r.flag, 0);
	assert_int_equal(r.base_found, 1);
	assert_int_equal(r.base.ino, 9);
	assert_int_equal(r.base.has_ext, 1);
	assert_memory_equal(r.base.ext, rec.ext, sizeof(rec.ext));
	/* The base's flag is not optional; an ext flag is 0 or 1. */
	srec_start(&b, SR_INDEX_A);
	srec_u8(&b, 0);
	assert_int_equal(decode(&b, &r, err), -1);
	rec.has_ext = 2;
	srec_start(&b, SR_INDEX_PUT);
	srec_str(&b, "/dev/sda");
	srec_bytes(&b, "/x", 2);
	srec_put_rec(&b, &rec);
	assert_int_equal(decode(&b, &r, err), -1);
	/* Own ranges: only where storage was given for them. */
	srec_start(&b, SR_OWN_A);
	srec_u8(&b, 1);
	srec_u32(&b, SREC_OWN_MAX);
	for (i = 0; i < SREC_OWN_MAX; i++) {
		srec_u64(&b, (uint64_t)i * 65536);
		srec_u64(&b, 4096);
	}
	assert_false(b.over);
	assert_int_equal(decode(&b, &r, err), -1);
	r.scan = NULL;
	r.result = NULL;
	r.ready = NULL;
	r.own = &own;
	assert_int_equal(srec_decode(b.b, b.len, &r, err, sizeof(err)), 0);
	assert_int_equal(own.n, SREC_OWN_MAX);
	assert_int_equal(own.more, 1);
	assert_int_equal(own.start[SREC_OWN_MAX - 1],
	    (uint64_t)(SREC_OWN_MAX - 1) * 65536);
	srec_start(&b, SR_OWN_A);		/* one too many */
	srec_u8(&b, 0);
	srec_u32(&b, SREC_OWN_MAX + 1);
	assert_int_equal(srec_decode(b.b, b.len, &r, err, sizeof(err)), -1);
	srec_start(&b, SR_OWN_A);		/* an empty range */
	srec_u8(&b, 0);
	srec_u32(&b, 1);
	srec_u64(&b, 5);
	srec_u64(&b, 0);
	assert_int_equal(srec_decode(b.b, b.len, &r, err, sizeof(err)), -1);
	srec_start(&b, SR_OWN_A);		/* one that wraps */
	srec_u8(&b, 0);
	srec_u32(&b, 1);
	srec_u64(&b, UINT64_MAX - 1);
	srec_u64(&b, 4);
	assert_int_equal(srec_decode(b.b, b.len, &r, err, sizeof(err)), -1);
	srec_start(&b, SR_OWN_Q);
	srec_u32(&b, SREC_MAX_DISKS);
	srec_u32(&b, 0);
	assert_int_equal(decode(&b, &r, err), -1);
}

static void
test_transport(void **state)
{
	static struct srec_buf b;
	static unsigned char buf[SREC_MAX];
	int sv[2], pass[2], got;
	long n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(pass), 0);
	srec_start(&b, SR_SPAWN);
	assert_int_equal(srec_send(sv[0], &b, pass[0]), 0);
	n = srec_recv(sv[1], buf, &got);
	assert_int_equal(n, 1);
	assert_true(got >= 0);
	close(got);
	/* One record per message; the end of the stream is 0. */
	detection(&b, "/x", 2, "Eicar", 0);
	assert_int_equal(srec_send(sv[0], &b, -1), 0);
	assert_int_equal(srec_recv(sv[1], buf, NULL), (long)b.len);
	close(sv[0]);
	assert_int_equal(srec_recv(sv[1], buf, NULL), 0);
	close(sv[1]);
	close(pass[0]);
	close(pass[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_clone),
		cmocka_unit_test(test_transport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

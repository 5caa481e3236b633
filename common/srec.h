/*
 * Scanner records: the only things that cross the trust barrier between
 * sentineld (root) and its unprivileged scanner processes.  One record is
 * one SOCK_SEQPACKET message: a type byte, then fixed fields in the
 * type's order (little-endian integers, strings and byte strings with a
 * 16-bit length).  Every record is decoded into a struct srec with each
 * length bounded and each value checked; anything else is refused whole.
 * The decoder is what the root side runs on what a possibly compromised
 * scanner sends: it is fuzzed (tests/fuzz/fuzz_srec.c).
 */
#ifndef SENTINEL_SREC_H
#define SENTINEL_SREC_H

#include <stddef.h>
#include <stdint.h>

#define SREC_MAX	(64 * 1024)	/* one record, in bytes */
#define SREC_PATH_MAX	4096		/* a guest path, bytes */
#define SREC_TEXT_MAX	512		/* reasons, details, log lines */
#define SREC_NAME_MAX	256		/* signatures, guest names, formats */
#define SREC_FS_MAX	128		/* device or tree names */
#define SREC_SHA_LEN	32
#define SREC_SIGSUM_LEN	120	/* SIGSUM_BYTES: the signatures' sums */
#define SREC_MAX_ALLOW	4096	/* SIGSUM_MAX_ALLOW: allowlist lines */
#define SREC_MAX_DISKS	64
#define SREC_MAX_THREADS	32	/* engine threads of a scan */
#define SREC_MIN_SPOOL	(1024 * 1024)
#define SREC_MAX_EXCLUDES 256
#define SREC_NSKIP	8		/* enum skip_reason's count */
#define SREC_NSTATUS	4		/* enum scan_status's count */
#define SREC_NENGINES	2		/* enum engine_kind's count */

enum srec_type {
	/* scanner child -> sentineld */
	SR_LOG = 1,		/* level, text */
	SR_PROGRESS,		/* files, bytes_read, fs_bytes, fs */
	SR_DETECTION,		/* fs, flags (SREC_DET_*), drive, path, name,
				 * engine, size */
	SR_SKIP,		/* reason, fs, path, guest_path (0, 1 or a
				 * drive letter), text */
	SR_RESULT,		/* the scan's end: status and counts */
	SR_CACHE_Q,		/* sha: known clean?  answered by SR_CACHE_A */
	SR_CACHE_ADD,		/* sha, classes: found clean */
	SR_INDEX_Q,		/* fs (tree key), path, flags (FINDEX_Q_*):
				 * answered by SR_INDEX_A */
	SR_INDEX_PUT,		/* fs, path, rec */
	SR_INDEX_DONE,		/* fs */
	SR_READ,		/* n bytes read: answered by SR_READ_OK */
	SR_OWN_Q,		/* disk, from: a clone's own ranges?
				 * answered by SR_OWN_A */
	/* zygote -> sentineld, on a scan's channel after its child ended */
	SR_EXITED,		/* status: the wait(2) status */
	/* sentineld -> scanner child */
	SR_SCAN,		/* the request, see struct srec_scan */
	SR_CACHE_A,		/* flag, classes */
	SR_INDEX_A,		/* flag, rec, base flag, base rec */
	SR_READ_OK,		/* flag: 0 means cancelled; n[0]: engine
				 * threads the scan may run now */
	/* zygote <-> sentineld */
	SR_READY,		/* the engine: see struct srec_ready */
	SR_FAILED,		/* text: the zygote could not start */
	SR_SPAWN,		/* sentineld asks for a child; a fd rides along */
	SR_SPAWNED,		/* pid (0: failed, text says why) */
	/* sentineld -> scanner child, at the end not to move the others */
	SR_OWN_A,		/* more, n ranges: see struct srec_own */
	SR_NTYPES
};

struct srec_rec {		/* a file index record, as findex_rec */
	uint64_t	 ino, size;
	int64_t		 mtime_s, mtime_ns, ctime_s, ctime_ns;
	unsigned char	 sha[SREC_SHA_LEN];
	unsigned char	 md5[16], sha1[20];
	uint32_t	 classes, changed;
	uint8_t		 has_ext;	/* ext: where its bytes lie */
	unsigned char	 ext[16];
	char		 found[SREC_NENGINES][SREC_NAME_MAX];	/* its
					 * detections, per engine; "": none */
};

struct srec_disk {
	char		 path[108];	/* the NBD socket */
	char		 format[16];
	char		 target[32];	/* the export name */
};

struct srec_scan {
	char		 guest[SREC_NAME_MAX];
	char		 backend_settings[SREC_TEXT_MAX];
	uint64_t	 max_file_size;
	uint64_t	 max_listing;
	uint64_t	 spool;		/* bytes of the spool */
	uint32_t	 threads;	/* engine threads, 1..SREC_MAX_THREADS */
	uint32_t	 launch_timeout;	/* seconds, 0: none */
	uint8_t		 use_cache, use_index, verbose;
	uint8_t		 extents;	/* learn where files lie */
	uint8_t		 clone;		/* a linked clone: base records in
					 * SR_INDEX_A, own ranges SR_OWN_Q */
	uint32_t	 ndisks;
	struct srec_disk disks[SREC_MAX_DISKS];
	uint32_t	 nexcludes;
	char		 excludes[SREC_MAX_EXCLUDES][SREC_NAME_MAX];
};

/* The flags of a detection. */
#define SREC_DET_GUEST_PATH	0x01	/* path as the guest mounts it */
#define SREC_DET_HIDDEN		0x02	/* under a mountpoint of the guest */

struct srec_result {
	uint8_t		 status;
	char		 reason[SREC_TEXT_MAX];
	uint64_t	 files, bytes_read, bytes_scanned, cache_hits, unchanged;
	uint64_t	 hidden;
	uint64_t	 skipped[SREC_NSKIP];
	uint32_t	 fs_scanned, fs_failed, ndetections, streams;
	char		 os[SREC_FS_MAX];
	uint64_t	 launch_ms, stream_ms;
};

/* A linked clone's own ranges of one disk (bytes its overlay holds), in
 * order, from the n-th asked for. */
#define SREC_OWN_MAX	2048
struct srec_own {
	uint8_t		 more;
	uint32_t	 n;
	uint64_t	 start[SREC_OWN_MAX], len[SREC_OWN_MAX];
};

struct srec_ready {
	char		 version[64];
	char		 stamp[40];
	char		 dbdir[1024];
	char		 libversion[64];
	uint32_t	 signatures, yara_rules;
	uint64_t	 load_ms;
	uint8_t		 has_sigsum;	/* 0: the sums could not be taken */
	unsigned char	 sigsum[SREC_SIGSUM_LEN];
	uint32_t	 nallow;	/* the allowlist set, 8 bytes each */
	unsigned char	 allow[SREC_MAX_ALLOW * 8];
};

/* A decoded record.  Strings are NUL-terminated; text fields (fs, name,
 * text) have every control byte replaced by '?'; paths are raw bytes
 * without NUL, with their length. */
struct srec {
	enum srec_type	 type;
	uint8_t		 flag;		/* level, guest_path, reason, engine,
					 * status, found, ok */
	uint8_t		 drive;		/* SR_DETECTION: 'A'-'Z', or 0 */
	uint8_t		 engine;
	uint64_t	 n[3];		/* files/bytes, size, n bytes, pid */
	int32_t		 status;	/* SR_EXITED */
	char		 fs[SREC_FS_MAX];
	char		 name[SREC_NAME_MAX];
	char		 text[SREC_TEXT_MAX];
	char		 path[SREC_PATH_MAX + 1];
	size_t		 pathlen;
	unsigned char	 sha[SREC_SHA_LEN];
	struct srec_rec	 rec;
	uint8_t		 base_found;	/* SR_INDEX_A */
	struct srec_rec	 base;
	/* Large parts, only for their types (NULL otherwise); the caller
	 * gives the storage. */
	struct srec_scan	*scan;
	struct srec_result	*result;
	struct srec_ready	*ready;
	struct srec_own		*own;
};

/* An encoder: a fixed buffer and an overflow flag. */
struct srec_buf {
	unsigned char	 b[SREC_MAX];
	size_t		 len;
	int		 over;
};

void	srec_start(struct srec_buf *, enum srec_type);
void	srec_u8(struct srec_buf *, uint8_t);
void	srec_u32(struct srec_buf *, uint32_t);
void	srec_u64(struct srec_buf *, uint64_t);
void	srec_bytes(struct srec_buf *, const void *, size_t);
void	srec_str(struct srec_buf *, const char *);
void	srec_raw(struct srec_buf *, const void *, size_t);	/* no length */

/* Encoders of the records with many fields. */
void	srec_put_rec(struct srec_buf *, const struct srec_rec *);
void	srec_put_scan(struct srec_buf *, const struct srec_scan *);
void	srec_put_result(struct srec_buf *, const struct srec_result *);
void	srec_put_ready(struct srec_buf *, const struct srec_ready *);

/* Decodes LEN bytes into R (whose scan/result/ready pointers give the
 * storage for those types, or are NULL to refuse them).  0, or -1 with
 * err saying what was wrong. */
int	srec_decode(const void *, size_t, struct srec *, char *, size_t);
const char *srec_type_name(int);

/* Sends one record (and a descriptor when fd >= 0); 0 or -1 (errno). */
int	srec_send(int, const struct srec_buf *, int);
/* Receives one record into BUF (SREC_MAX bytes); its length, 0 at the end
 * of the stream, -1 on error (errno; EMSGSIZE for a record cut short).
 * A descriptor that came with it goes to *fdp when fdp is not NULL (-1
 * if none), else it is closed. */
long	srec_recv(int, void *, int *);

#endif

/*
 * What a signature update can change, by the kind of file it can match.
 *
 * libclamav's body and logical signatures name the file type they apply
 * to (an .ndb line's target, an .ldb line's Target:); PE section hashes,
 * icons and certificates apply to PE files; container metadata only to
 * containers.  The signatures of a version are summed per class (a sum of
 * the lines' hashes, so their order does not matter); two versions whose
 * sums differ in a class may judge a file of that class differently.
 * Whole-file hash signatures are not summed: a file's own hashes are
 * checked against them (sigdb.h).  Allowlists and ignore lists (.fp,
 * .sfp, .ign, .ign2) only ever take detections away, so adding to them
 * changes nothing for a file found clean; their lines are kept as a set
 * of hashes, and a line removed counts as SC_OTHER.  Whatever is not a
 * signature of a known class (bytecode, file type magic, engine settings,
 * YARA rules, libclamav's version) falls in SC_OTHER, which every file is
 * subject to.
 *
 * Pure code: sentineld compares two sums without libclamav.
 */
#ifndef SENTINEL_SIGSUM_H
#define SENTINEL_SIGSUM_H

#include <stddef.h>
#include <stdint.h>

enum sig_class {
	SC_ANY,		/* target 0: every file */
	SC_PE,
	SC_OLE2,
	SC_HTML,	/* and the phishing databases */
	SC_MAIL,
	SC_GRAPHICS,
	SC_ELF,
	SC_TEXT,
	SC_MACHO,
	SC_PDF,
	SC_SWF,
	SC_JAVA,
	SC_CONTAINER,	/* container metadata (.cdb) */
	SC_HASH,	/* whole-file hashes: set when two versions differ */
	SC_OTHER,	/* everything else: every file */
	SIG_NCLASSES
};

#define SC_BIT(c)	(1u << (c))
#define SC_EVERY	((1u << SIG_NCLASSES) - 1)
/* What any file is subject to, whatever its type. */
#define SC_ALWAYS	(SC_BIT(SC_ANY) | SC_BIT(SC_HASH) | SC_BIT(SC_OTHER))

/* More allowlist lines than this are summed in SC_OTHER instead (any
 * change to them is then a change for every file). */
#define SIGSUM_MAX_ALLOW	4096

struct sigsum {
	uint64_t	d[SIG_NCLASSES];
	/* The hashes of the allowlist and ignore list lines, sorted by
	 * sigsum_finish. */
	uint64_t	allow[SIGSUM_MAX_ALLOW];
	size_t		nallow;
	uint64_t	allow_sum;
	int		allow_over;
};

#define SIGSUM_BYTES	(SIG_NCLASSES * 8)

/* Adds one line of a database file of extension EXT (".ndb") to S. */
void		sigsum_line(struct sigsum *, const char *, const char *, size_t);
/* Adds bytes that belong to no class (a YARA rule file, a version). */
void		sigsum_other(struct sigsum *, const void *, size_t);
/* After the last line: sorts the allowlist set, or sums it in SC_OTHER
 * when it was too large to keep. */
void		sigsum_finish(struct sigsum *);
/* Whether a file of extension EXT is summed line by line (0: it holds
 * whole-file hashes, PUA signatures that are not loaded, or metadata). */
int		sigsum_wants(const char *);
/* The classes whose signatures differ between A (older) and B (newer);
 * an allowlist line of A that B lacks is SC_OTHER. */
uint32_t	sigsum_changed(const struct sigsum *, const struct sigsum *);
/* The classes a file is subject to: from the type libclamav gave it
 * ("CL_TYPE_ELF") and how many layers its scan went through (more than
 * one: a container, an embedded or unpacked file: every class). */
uint32_t	sigsum_file_classes(const char *, unsigned int);
/* The sums per class as bytes and back (little-endian), for the state
 * database; and the allowlist set likewise, 8 bytes a line
 * (sigsum_unpack_allow: -1 if LEN is not a whole, sorted set). */
void		sigsum_pack(const struct sigsum *, unsigned char[SIGSUM_BYTES]);
void		sigsum_unpack(struct sigsum *, const unsigned char[SIGSUM_BYTES]);
void		sigsum_pack_allow(const struct sigsum *, unsigned char *);
int		sigsum_unpack_allow(struct sigsum *, const unsigned char *,
		    size_t);

#endif

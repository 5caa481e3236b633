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
 * checked against them (sigdb.h).  Whatever is not a signature of a known
 * class (allowlists, bytecode, file type magic, engine settings, YARA
 * rules, libclamav's version) falls in SC_OTHER, which every file is
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

struct sigsum {
	uint64_t	d[SIG_NCLASSES];
};

#define SIGSUM_BYTES	(SIG_NCLASSES * 8)

/* Adds one line of a database file of extension EXT (".ndb") to S. */
void		sigsum_line(struct sigsum *, const char *, const char *, size_t);
/* Adds bytes that belong to no class (a YARA rule file, a version). */
void		sigsum_other(struct sigsum *, const void *, size_t);
/* Whether a file of extension EXT is summed line by line (0: it holds
 * whole-file hashes, PUA signatures that are not loaded, or metadata). */
int		sigsum_wants(const char *);
/* The classes whose signatures differ between A and B. */
uint32_t	sigsum_changed(const struct sigsum *, const struct sigsum *);
/* The classes a file is subject to: from the type libclamav gave it
 * ("CL_TYPE_ELF") and how many layers its scan went through (more than
 * one: a container, an embedded or unpacked file: every class). */
uint32_t	sigsum_file_classes(const char *, unsigned int);
/* A sum as bytes and back (little-endian), for the state database. */
void		sigsum_pack(const struct sigsum *, unsigned char[SIGSUM_BYTES]);
void		sigsum_unpack(struct sigsum *, const unsigned char[SIGSUM_BYTES]);

#endif

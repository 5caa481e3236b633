/*
 * The signature engines: libclamav, and YARA rules when a rules
 * directory is set, compiled once and shared by every scan (scanning is
 * thread-safe in both).  Both run on every file.  Reference counted so a
 * reload can build new engines beside the old ones.
 */
#ifndef SENTINEL_ENGINE_H
#define SENTINEL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct engine;

/* The engines, in the order they run; a hit per engine at most. */
enum engine_kind {
	ENGINE_CLAMAV,
	ENGINE_YARA,
	ENGINE_NKINDS,
};
const char	*engine_kind_name(enum engine_kind);

enum engine_verdict {
	ENGINE_CLEAN,
	ENGINE_INFECTED,
	ENGINE_LIMIT,		/* a scan limit stopped it: not known clean */
	ENGINE_ENCRYPTED,	/* an encrypted archive or document */
	ENGINE_ERROR,
};

/* clamd's limits, with its names and defaults (0 takes libclamav's). */
struct engine_limits {
	uint64_t	 max_scan_size;		/* MaxScanSize, 400M */
	uint64_t	 max_file_size;		/* MaxFileSize, 100M */
	unsigned int	 max_recursion;		/* MaxRecursion, 17 */
	unsigned int	 max_files;		/* MaxFiles, 10000 */
	unsigned int	 max_scan_time_ms;	/* MaxScanTime, 120000 */
};

/* Initializes libclamav; call once before any other engine function. */
int		 engine_global_init(char *, size_t);
/* Loads and compiles the signatures of DIR ("" or NULL: libclamav's
 * default directory), and the YARA rules (*.yar, *.yara) of YARADIR when
 * it is not NULL or "".  TMPDIR is where libclamav's unpackers may write;
 * LIMITS may be NULL. */
struct engine	*engine_load(const char *, const char *, const char *,
		    const struct engine_limits *, char *, size_t);
/* For tests: called by engine_load with DIR after it took the files'
 * stamp and before it reads a byte of them.  NULL in sentinel. */
extern void	(*engine_load_hook)(const char *);
/* The version engine_load would give the files of DIR and YARADIR now,
 * without loading them (libclamav's own part left out): for a cheap
 * "changed?" check. */
void		 engine_dir_stamp(const char *, const char *, char *, size_t);
const char	*engine_dir_stamp_of(const struct engine *);
struct engine	*engine_ref(struct engine *);
void		 engine_unref(struct engine *);
/* libclamav's own cache of clean content (on by default: a file seen
 * clean by this engine is hashed, not scanned, until the engine goes). */
int		 engine_set_cache(struct engine *, int);
unsigned int	 engine_signatures(const struct engine *);
unsigned int	 engine_yara_rules(const struct engine *);	/* 0: none */
const char	*engine_dbdir(const struct engine *);
const char	*engine_yaradir(const struct engine *);	/* "": none */
/* Whether the files are still those the engine was loaded from (by
 * their stamp): what reads them again (sigdb.h) reads what it loaded. */
int		 engine_files_unchanged(const struct engine *);
uint64_t	 engine_load_ms(const struct engine *);
/* Changes whenever the signature files do: cached verdicts are for one. */
const char	*engine_version(const struct engine *);
const char	*engine_lib_version(void);
/* What libclamav made of a file: the type it gave it ("CL_TYPE_ELF",
 * static; NULL if it did not get that far) and how many layers it
 * scanned (the file, and each member, embedded or unpacked file). */
struct engine_seen {
	const char	*type;
	unsigned int	 layers;
};

/* Scans a buffer with every engine; SEEN, when not NULL, is filled.  On ENGINE_INFECTED hits[kind] is
 * the signature or rule of each engine that matched, else NULL (pointing
 * into the engine: valid while a reference is held); on ENGINE_LIMIT,
 * ENGINE_ENCRYPTED and ENGINE_ERROR err says why. */
enum engine_verdict engine_scan_mem(struct engine *, const void *, size_t,
		    const char *, const char *hits[ENGINE_NKINDS],
		    struct engine_seen *, char *, size_t);

#endif

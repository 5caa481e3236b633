/*
 * Sums of a signature version per class of file (sigsum.h).
 */
#include <stdlib.h>
#include <string.h>

#include "sigsum.h"

static uint64_t
fnv64(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

/* splitmix64's finalizer: a sum of FNV hashes alone would let two
 * different sets of lines cancel out too easily. */
static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The class of libclamav's target type number (an .ndb target, an .ldb
 * Target:).  A number this table does not know is SC_OTHER: every file. */
static enum sig_class
target_class(const char *s, size_t len)
{
	static const enum sig_class t[] = { SC_ANY, SC_PE, SC_OLE2, SC_HTML,
	    SC_MAIL, SC_GRAPHICS, SC_ELF, SC_TEXT, SC_OTHER, SC_MACHO, SC_PDF,
	    SC_SWF, SC_JAVA };
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 3)
		return SC_OTHER;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SC_OTHER;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v < sizeof(t) / sizeof(t[0]) ? t[v] : SC_OTHER;
}

/* Field N (from 0) of LINE split at SEP: its start and length, or NULL. */
static const char *
field(const char *line, size_t len, char sep, int n, size_t *flen)
{
	const char *p = line, *end = line + len, *q;

	while (n-- > 0) {
		if ((q = memchr(p, sep, (size_t)(end - p))) == NULL)
			return NULL;
		p = q + 1;
	}
	q = memchr(p, sep, (size_t)(end - p));
	*flen = (size_t)((q != NULL ? q : end) - p);
	return p;
}

/* An .ldb line's class: Target: in its target description block (the
 * second field, "Engine:81-255,Target:1,..."); none is every file. */
static enum sig_class
ldb_class(const char *line, size_t len)
{
	const char *tdb, *p, *end, *q;
	size_t tlen;

	if ((tdb = field(line, len, ';', 1, &tlen)) == NULL)
		return SC_OTHER;
	for (p = tdb, end = tdb + tlen; p < end; p = q + 1) {
		if ((q = memchr(p, ',', (size_t)(end - p))) == NULL)
			q = end;
		if ((size_t)(q - p) > 7 && memcmp(p, "Target:", 7) == 0)
			return target_class(p + 7, (size_t)(q - p - 7));
	}
	return SC_ANY;
}

static enum sig_class
line_class(const char *ext, const char *line, size_t len)
{
	static const char *pe[] = { ".mdb", ".msb", ".imp", ".idb", ".crb",
	    ".cat", NULL };
	const char *f;
	size_t flen, i;

	if (strcmp(ext, ".ndb") == 0)
		return (f = field(line, len, ':', 1, &flen)) != NULL ?
		    target_class(f, flen) : SC_OTHER;
	if (strcmp(ext, ".ldb") == 0)
		return ldb_class(line, len);
	for (i = 0; pe[i] != NULL; i++)
		if (strcmp(ext, pe[i]) == 0)
			return SC_PE;
	if (strcmp(ext, ".cdb") == 0)
		return SC_CONTAINER;
	if (strcmp(ext, ".pdb") == 0 || strcmp(ext, ".gdb") == 0 ||
	    strcmp(ext, ".wdb") == 0)
		return SC_HTML;
	return SC_OTHER;
}

static int
is_allow(const char *ext)
{
	return strcmp(ext, ".fp") == 0 || strcmp(ext, ".sfp") == 0 ||
	    strcmp(ext, ".ign") == 0 || strcmp(ext, ".ign2") == 0;
}

int
sigsum_wants(const char *ext)
{
	/* Whole-file hashes are checked file by file (sigdb_match); the
	 * PUA databases (.?du) are not loaded with libclamav's standard
	 * options; .info lists the other files of a .cvd. */
	static const char *no[] = { ".hdb", ".hsb", ".hdu", ".hsu", ".ndu",
	    ".ldu", ".mdu", ".msu", ".info", NULL };
	size_t i;

	for (i = 0; no[i] != NULL; i++)
		if (strcmp(ext, no[i]) == 0)
			return 0;
	return 1;
}

void
sigsum_line(struct sigsum *s, const char *ext, const char *line, size_t len)
{
	uint64_t h;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
	    line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || line[0] == '#')
		return;
	h = mix(fnv64(fnv64(14695981039346656037ull, ext, strlen(ext) + 1),
	    line, len));
	if (is_allow(ext)) {
		s->allow_sum += h;
		if (s->nallow < SIGSUM_MAX_ALLOW)
			s->allow[s->nallow++] = h;
		else
			s->allow_over = 1;
		return;
	}
	s->d[line_class(ext, line, len)] += h;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
sigsum_finish(struct sigsum *s)
{
	if (s->allow_over) {
		s->d[SC_OTHER] += s->allow_sum;
		s->nallow = 0;
		return;
	}
	qsort(s->allow, s->nallow, sizeof(s->allow[0]), cmp_u64);
}

void
sigsum_other(struct sigsum *s, const void *p, size_t len)
{
	s->d[SC_OTHER] += mix(fnv64(14695981039346656037ull, p, len));
}

uint32_t
sigsum_changed(const struct sigsum *a, const struct sigsum *b)
{
	uint32_t m = 0;
	int i;

	size_t j, k;

	for (i = 0; i < SIG_NCLASSES; i++)
		if (a->d[i] != b->d[i])
			m |= SC_BIT(i);
	/* Both sorted: is every line of A still in B? */
	for (j = k = 0; j < a->nallow; j++) {
		while (k < b->nallow && b->allow[k] < a->allow[j])
			k++;
		if (k == b->nallow || b->allow[k] != a->allow[j]) {
			m |= SC_BIT(SC_OTHER);
			break;
		}
	}
	return m;
}

uint32_t
sigsum_file_classes(const char *type, unsigned int layers)
{
	static const struct {
		const char	*type;
		uint32_t	 classes;
	} t[] = {
		{ "CL_TYPE_MSEXE", SC_BIT(SC_PE) },
		{ "CL_TYPE_ELF", SC_BIT(SC_ELF) },
		{ "CL_TYPE_MACHO", SC_BIT(SC_MACHO) },
		{ "CL_TYPE_JAVA", SC_BIT(SC_JAVA) },
		{ "CL_TYPE_GRAPHICS", SC_BIT(SC_GRAPHICS) },
		{ "CL_TYPE_GIF", SC_BIT(SC_GRAPHICS) },
		{ "CL_TYPE_PNG", SC_BIT(SC_GRAPHICS) },
		{ "CL_TYPE_JPEG", SC_BIT(SC_GRAPHICS) },
		{ "CL_TYPE_TIFF", SC_BIT(SC_GRAPHICS) },
		/* Text is normalized and scanned as HTML or mail where it
		 * looks like either; and so may what libclamav found no
		 * type for. */
#define TEXTISH	(SC_BIT(SC_TEXT) | SC_BIT(SC_HTML) | SC_BIT(SC_MAIL))
		{ "CL_TYPE_TEXT_ASCII", TEXTISH },
		{ "CL_TYPE_TEXT_UTF8", TEXTISH },
		{ "CL_TYPE_TEXT_UTF16LE", TEXTISH },
		{ "CL_TYPE_TEXT_UTF16BE", TEXTISH },
		{ "CL_TYPE_HTML", TEXTISH },
		{ "CL_TYPE_HTML_UTF16", TEXTISH },
		{ "CL_TYPE_MAIL", TEXTISH },
		{ "CL_TYPE_SCRIPT", TEXTISH },
		{ "CL_TYPE_BINARY_DATA", TEXTISH },
		/* No signature targets it; handled as data. */
		{ "CL_TYPE_PYTHON_COMPILED", TEXTISH },
#undef TEXTISH
	};
	size_t i;

	if (type == NULL || layers != 1)
		return SC_EVERY;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(type, t[i].type) == 0)
			return SC_ALWAYS | t[i].classes;
	return SC_EVERY;
}

void
sigsum_pack(const struct sigsum *s, unsigned char out[SIGSUM_BYTES])
{
	int i, k;

	for (i = 0; i < SIG_NCLASSES; i++)
		for (k = 0; k < 8; k++)
			out[i * 8 + k] = (unsigned char)(s->d[i] >> (8 * k));
}

void
sigsum_unpack(struct sigsum *s, const unsigned char in[SIGSUM_BYTES])
{
	int i, k;

	for (i = 0; i < SIG_NCLASSES; i++) {
		s->d[i] = 0;
		for (k = 0; k < 8; k++)
			s->d[i] |= (uint64_t)in[i * 8 + k] << (8 * k);
	}
	s->nallow = 0;
}

void
sigsum_pack_allow(const struct sigsum *s, unsigned char *out)
{
	size_t i;
	int k;

	for (i = 0; i < s->nallow; i++)
		for (k = 0; k < 8; k++)
			out[i * 8 + k] = (unsigned char)(s->allow[i] >> (8 * k));
}

int
sigsum_unpack_allow(struct sigsum *s, const unsigned char *in, size_t len)
{
	size_t i;
	int k;

	if (len % 8 != 0 || len / 8 > SIGSUM_MAX_ALLOW)
		return -1;
	for (i = 0; i < len / 8; i++) {
		s->allow[i] = 0;
		for (k = 0; k < 8; k++)
			s->allow[i] |= (uint64_t)in[i * 8 + k] << (8 * k);
		if (i > 0 && s->allow[i] < s->allow[i - 1])
			return -1;
	}
	s->nallow = len / 8;
	return 0;
}

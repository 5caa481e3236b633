/*
 * Disks of a libvirt domain, from its XML.  Only disks whose data sentinel
 * can open read-only from the host are kept (file and block sources with
 * device "disk"); the others are named in a note so the scan can say what
 * it did not cover.  A disk without <driver type> is raw to libvirt, and so
 * to us: the format is never probed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "sentineld.h"

#define MAX_DISKS	64

void
disks_free(struct scan_disk *d, size_t n)
{
	size_t i;

	for (i = 0; d != NULL && i < n; i++) {
		free(d[i].path);
		free(d[i].format);
		free(d[i].target);
	}
	free(d);
}

struct scan_disk *
disks_copy(const struct scan_disk *d, size_t n)
{
	struct scan_disk *c;
	size_t i;

	if ((c = calloc(n ? n : 1, sizeof(*c))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c[i].path = strdup(d[i].path);
		c[i].format = strdup(d[i].format);
		c[i].target = strdup(d[i].target);
		c[i].nbd = d[i].nbd;
		if (!c[i].path || !c[i].format || !c[i].target) {
			disks_free(c, i + 1);
			return NULL;
		}
	}
	return c;
}

static xmlNode *
child(xmlNode *n, const char *name)
{
	for (n = n ? n->children : NULL; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

static char *
attr(xmlNode *n, const char *name)
{
	xmlChar *v;
	char *s;

	if (n == NULL || (v = xmlGetProp(n, (const xmlChar *)name)) == NULL)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

/* The root element of XML if it parses, is named NAME and is not a
 * network fetch in disguise; *docp is for xmlFreeDoc (set even if NULL
 * is returned). */
static xmlNode *
parse(const char *xml, const char *name, xmlDoc **docp)
{
	xmlNode *root;

	*docp = xmlReadMemory(xml, (int)strlen(xml), name, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (*docp == NULL || (root = xmlDocGetRootElement(*docp)) == NULL ||
	    strcmp((const char *)root->name, name) != 0)
		return NULL;
	return root;
}

static void
note_add(char *note, size_t notelen, const char *target, const char *why)
{
	size_t len = strlen(note);

	snprintf(note + len, notelen - len, "%s%s: %s", len ? "; " : "",
	    target ? target : "?", why);
}

/* Valid formats are a fixed set: a name from the XML goes to libguestfs. */
static int
format_ok(const char *f)
{
	static const char *ok[] = { "raw", "qcow2", "qcow", "vmdk", "vdi",
	    "vhdx", "vpc", "qed", "luks", "bochs", "cloop", "dmg", "parallels" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(f, ok[i]) == 0)
			return 1;
	return 0;
}

int
domxml_disks(const char *xml, struct scan_disk **out, size_t *nout,
    char **notep, char *err, size_t errlen)
{
	xmlDoc *doc;
	xmlNode *root, *devs, *n;
	struct scan_disk *d = NULL;
	size_t nd = 0;
	char note[1024] = "";
	char *type, *device, *path, *format, *target;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	*notep = NULL;
	if ((root = parse(xml, "domain", &doc)) == NULL) {
		snprintf(err, errlen, "domain XML does not parse");
		goto out;
	}
	if ((d = calloc(MAX_DISKS, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	devs = child(root, "devices");
	for (n = devs ? devs->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)n->name, "disk") != 0)
			continue;
		type = attr(n, "type");
		device = attr(n, "device");
		target = attr(child(n, "target"), "dev");
		format = attr(child(n, "driver"), "type");
		path = NULL;
		if (device != NULL && strcmp(device, "disk") != 0)
			;	/* cdrom, floppy, lun: not the guest's data */
		else if (type != NULL && strcmp(type, "file") == 0)
			path = attr(child(n, "source"), "file");
		else if (type != NULL && strcmp(type, "block") == 0)
			path = attr(child(n, "source"), "dev");
		else
			note_add(note, sizeof(note), target,
			    "disk type not supported");
		if (path == NULL && (device == NULL ||
		    strcmp(device, "disk") == 0) && type != NULL &&
		    (strcmp(type, "file") == 0 || strcmp(type, "block") == 0))
			note_add(note, sizeof(note), target, "no source");
		if (path != NULL && format != NULL && !format_ok(format)) {
			note_add(note, sizeof(note), target,
			    "unknown disk format");
			free(path);
			path = NULL;
		}
		if (path != NULL && nd == MAX_DISKS) {
			note_add(note, sizeof(note), target, "too many disks");
			free(path);
			path = NULL;
		}
		if (path != NULL) {
			d[nd].path = path;
			d[nd].format = format ? format : strdup("raw");
			d[nd].target = target ? target : strdup("?");
			format = target = NULL;
			if (d[nd].format == NULL || d[nd].target == NULL) {
				nd++;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			nd++;
		}
		free(type);
		free(device);
		free(target);
		free(format);
	}
	if (note[0] != '\0' && (*notep = strdup(note)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*out = d;
	*nout = nd;
	d = NULL;
	rc = 0;
out:
	disks_free(d, nd);
	xmlFreeDoc(doc);
	return rc;
}

/*
 * The guest agent channel of a domain's live XML: -1 none, 0 present but
 * not connected (no agent answering in the guest), 1 connected.
 */
int
domxml_agent(const char *xml)
{
	xmlDoc *doc;
	xmlNode *root, *n, *t;
	char *name, *state;
	int rc = -1;

	if ((root = parse(xml, "domain", &doc)) == NULL)
		goto out;
	n = child(root, "devices");
	for (n = n ? n->children : NULL; n != NULL && rc == -1; n = n->next) {
		if (n->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)n->name, "channel") != 0 ||
		    (t = child(n, "target")) == NULL)
			continue;
		name = attr(t, "name");
		state = attr(t, "state");
		if (name != NULL && strcmp(name, "org.qemu.guest_agent.0") == 0)
			rc = state != NULL && strcmp(state, "connected") == 0;
		free(name);
		free(state);
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

/* Appends S to the buffer, with XML's special characters escaped if ESC. */
static int
put(char **b, size_t *len, size_t *cap, const char *s, int esc)
{
	const char *r;
	char one[2] = "";
	size_t n;

	for (; *s != '\0'; s++) {
		switch (esc ? *s : '\0') {
		case '&':	r = "&amp;"; break;
		case '<':	r = "&lt;"; break;
		case '>':	r = "&gt;"; break;
		case '\'':	r = "&apos;"; break;
		case '"':	r = "&quot;"; break;
		default:	one[0] = *s; r = one; break;
		}
		n = strlen(r);
		if (*len + n + 1 > *cap) {
			size_t nc = (*cap + n + 1) * 2;
			char *nb = realloc(*b, nc);

			if (nb == NULL)
				return -1;
			*b = nb;
			*cap = nc;
		}
		memcpy(*b + *len, r, n + 1);
		*len += n;
	}
	return 0;
}

/*
 * The backup XML of a pull-mode job exporting disks D[0..n) over the NBD
 * Unix socket SOCK, each with its scratch file SCRATCH[i].  Disks left out
 * take no part (libvirt backs up only the listed ones once any is).
 */
char *
domxml_backup(const char *sock, const struct scan_disk *d, size_t n,
    char *const *scratch)
{
	char *b = NULL;
	size_t len = 0, cap = 0, i;

#define PUT(str, esc) do {						\
	if (put(&b, &len, &cap, (str), (esc)) == -1)			\
		goto oom;						\
} while (0)
	PUT("<domainbackup mode='pull'>\n  <server transport='unix' socket='",
	    0);
	PUT(sock, 1);
	PUT("'/>\n  <disks>\n", 0);
	for (i = 0; i < n; i++) {
		PUT("    <disk name='", 0);
		PUT(d[i].target, 1);
		PUT("' backup='yes' type='file'>\n      <scratch file='", 0);
		PUT(scratch[i], 1);
		PUT("'/>\n      <driver type='qcow2'/>\n    </disk>\n", 0);
	}
	PUT("  </disks>\n</domainbackup>\n", 0);
#undef PUT
	return b;
oom:
	free(b);
	return NULL;
}

/* The NBD socket of a running backup job's XML, or NULL. */
char *
domxml_backup_socket(const char *xml)
{
	xmlDoc *doc;
	xmlNode *root;
	char *sock = NULL, *transport;

	if ((root = parse(xml, "domainbackup", &doc)) != NULL &&
	    (transport = attr(child(root, "server"), "transport")) != NULL) {
		if (strcmp(transport, "unix") == 0)
			sock = attr(child(root, "server"), "socket");
		free(transport);
	}
	xmlFreeDoc(doc);
	return sock;
}

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
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL ||
	    strcmp((const char *)root->name, "domain") != 0) {
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

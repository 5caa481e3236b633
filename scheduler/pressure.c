/*
 * Host pressure readings: Linux PSI avg10 of io and cpu ("some" line) and
 * the 1-minute load average.  A file that cannot be read reads as 0, and
 * is reported once.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sentineld.h"

static int warned;

static double
psi_avg10(const char *path)
{
	char line[256];
	double v = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		if (!warned++)
			log_warnx("pressure: %s unreadable; PSI limits are not "
			    "applied", path);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "some avg10=%lf", &v) == 1)
			break;
	fclose(f);
	return v;
}

void
pressure_read(struct pressure *p)
{
	FILE *f;

	p->io = psi_avg10("/proc/pressure/io");
	p->cpu = psi_avg10("/proc/pressure/cpu");
	p->load = 0;
	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fscanf(f, "%lf", &p->load) != 1)
			p->load = 0;
		fclose(f);
	}
}

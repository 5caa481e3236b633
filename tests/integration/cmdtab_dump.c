/*
 * Prints the command table (common/cmdtab.c) for the man page test, one
 * command a line: its name, how it takes a guest, then its request keys
 * and, after "|", the ones sentinelctl has as options.
 */
#include <stdio.h>

#include "cmdtab.h"

int
main(void)
{
	static const char *guest[] = { "none", "optional", "one", "many" };
	size_t i;
	int a;

	for (i = 0; i < cmd_count; i++) {
		const struct cmd_entry *e = &cmd_table[i];

		printf("%s %s", e->name, guest[e->guest]);
		if (e->guest != CG_NONE)
			printf(" guest");
		for (a = 0; a < ARG_COUNT; a++)
			if (e->args & CMD_ARG(a))
				printf(" %s", cmd_args[a].name);
		printf(" |");
		for (a = 0; a < ARG_COUNT; a++)
			if ((e->args & CMD_ARG(a)) &&
			    (cmd_args[a].flags & CA_CLI))
				printf(" %s", cmd_args[a].name);
		printf("\n");
	}
	return 0;
}

/* diagram.h: reads a state table written in a header comment as lines " *   FROM -> TO TO ...",
 * so a test can compare a header's diagram with the code's table. */
#ifndef KGSUP_TEST_DIAGRAM_H
#define KGSUP_TEST_DIAGRAM_H

#include <stdio.h>
#include <string.h>

/* Fills listed[from][to] (n states named names[]) from path; returns the number of lines
 * read, or -1 when the file cannot be opened or names an unknown state. */
static int diagram_read(const char *path, const char *const names[], int n, int listed[][16])
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	int lines = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		char from[32];
		int off = 0;
		if (sscanf(line, " *   %31[A-Z] ->%n", from, &off) != 1 || !off)
			continue;
		int fi = -1;
		for (int i = 0; i < n; i++)
			if (!strcmp(names[i], from))
				fi = i;
		if (fi < 0)
			continue; /* a line of prose that happens to look alike */
		lines++;
		for (char *tok = strtok(line + off, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
			int ti = -1;
			for (int i = 0; i < n; i++)
				if (!strcmp(names[i], tok))
					ti = i;
			if (ti < 0)
				bad = 1;
			else
				listed[fi][ti] = 1;
		}
	}
	fclose(f);
	return bad ? -1 : lines;
}

#endif

/* log.c: timestamped, role-tagged log lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_tag[16] = "kgsup";
static int log_level = LOG_INFO;
static int bar_shown; /* a progress bar may stand on the terminal's last line */

void log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof log_tag, "%s", tag);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_level_from_env(void)
{
	const char *v = getenv("KGSUP_LOG_LEVEL");
	if (v && *v >= '0' && *v <= '3')
		log_level = *v - '0';
	v = getenv("KGSUP_BAR");
	bar_shown = v && *v == '1' && isatty(STDERR_FILENO);
}

void log_progress_bar(int on)
{
	bar_shown = on;
	setenv("KGSUP_BAR", on ? "1" : "0", 1);
}

void log_export_level(void)
{
	char v[2] = { (char)('0' + log_level), '\0' };
	setenv("KGSUP_LOG_LEVEL", v, 1);
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (level > log_level)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char line[2048];
	/* over a progress bar: back to the start of its line and erase it first */
	int n = snprintf(line, sizeof line, "%s%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s: ",
			 bar_shown ? "\r\033[K" : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv.tv_usec / 1000), log_tag, names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so lines of concurrent processes do not interleave */
	size_t len = strnlen(line, sizeof line - 2);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void die_msg(const char *fmt, ...)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%skgsup: ", bar_shown ? "\r\033[K" : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = strnlen(line, sizeof line - 2);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

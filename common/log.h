/* log.h: timestamped log lines on stderr, tagged with the process role ("sup", "w3",
 * "broker"), and the one-line user error ("kgsup: ..."). Nothing here ever sees the API key:
 * callers never pass it. */
#ifndef KGSUP_LOG_H
#define KGSUP_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_tag(const char *tag);
void log_set_level(int level);
int log_get_level(void);
/* Children take the supervisor's level from KGSUP_LOG_LEVEL (set by log_export_level). */
void log_level_from_env(void);
void log_export_level(void);
/* A progress bar is (1) or is no longer (0) drawn on stderr, a terminal: log lines of this
 * process and of children started afterwards erase its line before they print. */
void log_progress_bar(int on);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "kgsup: <message>" on stderr, no timestamp: the user-facing error line. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

/* floor_client.c: the bench's floor for kgsup's shape (bench-perf.sh builds and runs it).
 * PROCS processes each make blocking libcurl calls over one kept-alive connection, as kgsup's
 * workers do, and nothing else: no supervisor, no broker, no messages, no store. What it
 * reaches against a server is the most any program of that shape can reach there; what kgsup
 * spends beyond its CPU per request is the orchestration's cost.
 *
 *   floor_client URL CA_FILE BODY_FILE PROCS REQUESTS
 * prints: requests req/s "CPU us/req" "switches/req" (of the client processes only) */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static char *read_body(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char body[1 << 20];
	size_t n = fread(body, 1, sizeof body - 1, f);
	fclose(f);
	while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r'))
		n--;
	body[n] = '\0';
	return body;
}

static int client(const char *url, const char *ca, const char *body, int requests)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Authorization: Bearer bench-key");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (int i = 0; i < requests; i++) {
		long status = 0;
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
			fprintf(stderr, "floor_client: request %d failed (HTTP %ld)\n", i, status);
			return 1;
		}
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: floor_client URL CA_FILE BODY_FILE PROCS REQUESTS\n");
		return 2;
	}
	const char *body = read_body(argv[3]);
	int procs = atoi(argv[4]), total = atoi(argv[5]);
	if (!body || procs < 1 || total < procs) {
		fprintf(stderr, "floor_client: bad arguments\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(client(argv[1], argv[2], body, total / procs));
	}
	int failed = 0, st;
	while (wait(&st) > 0)
		failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (failed)
		return 1;
	int done = total / procs * procs;
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("%d %.0f %.0f %.1f\n", done, done / wall, cpu * 1e6 / done,
	       (double)(ru.ru_nvcsw + ru.ru_nivcsw) / done);
	return 0;
}

/* test_pidcache.c: getpid() (common/pidcache.c) is served from memory, so that libzmq's fork
 * check costs no system call, and it is right in the child of a fork(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t kernel_pid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

/* the libraries (libzmq) find ours: the first getpid in the global scope */
static void test_libraries_see_it(void **state)
{
	(void)state;
	void *found = dlsym(RTLD_DEFAULT, "getpid");
	assert_true(found == (void *)getpid);
	assert_int_equal(((pid_t(*)(void))found)(), kernel_pid());
}

/* a fork() child has its own pid: the exit status says whether it saw it */
static void test_fork_child(void **state)
{
	(void)state;
	pid_t parent = getpid();
	assert_int_equal(parent, kernel_pid());
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(getpid() == kernel_pid() && getpid() != parent ? 0 : 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(getpid(), parent);
}

/* the answer comes from memory, not from the kernel: a child made by the raw system call,
 * which runs no fork handler, still reads its parent's pid (libc's getpid would be right) */
static void test_from_memory(void **state)
{
	(void)state;
	pid_t parent = getpid();
	pid_t pid = (pid_t)syscall(SYS_fork);
	assert_true(pid >= 0);
	if (pid == 0)
		syscall(SYS_exit_group, getpid() == parent ? 0 : 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libraries_see_it),
		cmocka_unit_test(test_fork_child),
		cmocka_unit_test(test_from_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

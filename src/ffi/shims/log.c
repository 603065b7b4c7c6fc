/*
 * _dispatch_log: the reference's printf-style logging entry point.
 *
 * It is variadic, and stable Rust cannot define a variadic function (c_variadic is
 * unstable), so this one export is C, compiled by build.rs with the `cc` crate. It formats
 * into a bounded buffer and writes the line to stderr with one write(2), so concurrent
 * log lines do not interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((visibility("default"), format(printf, 1, 2)))
void _dispatch_log(const char *msg, ...)
{
	char buf[2048];
	int n = 0;
	if (msg) {
		va_list ap;
		va_start(ap, msg);
		n = vsnprintf(buf, sizeof(buf) - 1, msg, ap);
		va_end(ap);
	}
	if (n < 0) {
		n = 0;
	}
	if ((size_t)n > sizeof(buf) - 2) {
		n = (int)(sizeof(buf) - 2); /* truncated */
	}
	buf[n++] = '\n';
	ssize_t ignored = write(2, buf, (size_t)n);
	(void)ignored;
}

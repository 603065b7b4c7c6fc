/*
 * dispatch_debug: the one variadic function of the public API. Defining a C-variadic
 * function needs Rust's unstable `c_variadic` feature, so these lines are C (compiled by
 * build.rs with the `cc` crate, exported through exports.map): collect the arguments into a
 * va_list and hand it to the Rust dispatch_debugv (src/ffi/object.rs).
 */
#include <stdarg.h>

/* dispatch_object_t is a transparent union of object pointers: passed as one pointer. */
extern void dispatch_debugv(void *object, const char *message, va_list ap);

__attribute__((visibility("default"), format(printf, 2, 3)))
void dispatch_debug(void *object, const char *message, ...)
{
	va_list ap;
	va_start(ap, message);
	dispatch_debugv(object, message, ap);
	va_end(ap);
}

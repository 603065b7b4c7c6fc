/*
 * dispatch/object.h: the object types (a transparent union in C, a class hierarchy in
 * C++, so any dispatch object passes to dispatch_retain, dispatch_set_context...), the
 * DISPATCH_DECL macros the other headers declare their types with, dispatch_block_t,
 * and dispatch_debug.
 *
 * Hand-written C. The header layout is described in dispatch/dispatch.h.
 */
/* First and outside the guard, as in every topic header: the generated prototypes need
 * every type, so the first dispatch header a program includes brings in all topic
 * headers (in dependency order) and then the prototypes. */
#include <dispatch/generated/functions.h>

#ifndef __DISPATCH_OBJECT__
#define __DISPATCH_OBJECT__

#include <dispatch/base.h>

#if defined(__cplusplus)
typedef struct dispatch_object_s {
private:
    dispatch_object_s();
    ~dispatch_object_s();
    dispatch_object_s(const dispatch_object_s &);
    void operator=(const dispatch_object_s &);
} *dispatch_object_t;
#define DISPATCH_DECL(name) typedef struct name##_s : public dispatch_object_s {} *name##_t
#define DISPATCH_DECL_SUBCLASS(name, base) typedef struct name##_s : public base##_s {} *name##_t
#else
typedef union {
    struct _os_object_s *_os_obj;
    struct dispatch_object_s *_do;
    struct dispatch_queue_s *_dq;
    struct dispatch_queue_attr_s *_dqa;
    struct dispatch_group_s *_dg;
    struct dispatch_source_s *_ds;
    struct dispatch_semaphore_s *_dsema;
    struct dispatch_data_s *_ddata;
    struct dispatch_io_s *_dchannel;
} dispatch_object_t DISPATCH_TRANSPARENT_UNION;
#define DISPATCH_DECL(name) typedef struct name##_s *name##_t
#define DISPATCH_DECL_SUBCLASS(name, base) typedef base##_t name##_t
#endif

#ifdef __BLOCKS__
typedef void (^dispatch_block_t)(void);
#endif

/* dispatch_debug is variadic: defined in C (src/ffi/shims/debug.c), which stable Rust
 * cannot, so cbindgen does not see it. */
#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__) || defined(__clang__)
__attribute__((__format__(__printf__, 2, 3)))
#endif
DISPATCH_EXPORT void dispatch_debug(dispatch_object_t object, const char *message, ...);
#ifdef __cplusplus
}
#endif

#endif /* __DISPATCH_OBJECT__ */

/* gust/compat.h: what gust's public headers spell differently in C and C++.
 * Private.
 *
 * The headers compile as C11 and later and as C++17 and later, and a struct
 * has one layout in both languages: libgust, built as C, and a C++ caller
 * share gust_group_t and the deques the inline fast paths of
 * gust/pool_inline.h touch. So an atomic field is _Atomic(T) in C and
 * std::atomic<T> in C++, which GCC and Clang lay out alike (asserted below
 * and in tests/cpp), and its operations go through the macros here.
 *
 * Nothing here is API: the names start with GUST__ and may change. Included
 * by gust/pool.h outside its extern "C" block (<atomic> declares templates,
 * which cannot have C linkage). */
#ifndef GUST_COMPAT_H
#define GUST_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus

#include <atomic>

/* An atomic object of `type`, and the explicit-order load and store of one,
 * where `order` is relaxed, acquire, release or seq_cst. */
#define GUST__ATOMIC(type) std::atomic<type>
#define GUST__LOAD(object, order) std::atomic_load_explicit(object, std::memory_order_##order)
#define GUST__STORE(object, value, order)                                                          \
    std::atomic_store_explicit(object, value, std::memory_order_##order)
/* Sets an atomic no other thread can see yet. C++20 deprecates
 * std::atomic_init; a relaxed store compiles to the same plain move. */
#define GUST__ATOMIC_INIT(object, value) GUST__STORE(object, value, relaxed)

#define GUST__ALIGNAS(bytes) alignas(bytes)
#define GUST__ALIGNOF(type) alignof(type)
#define GUST__STATIC_ASSERT(condition, message) static_assert(condition, message)
/* __thread, not thread_local: C++ reads an extern thread_local variable
 * through a check for a dynamic initializer in its defining file (a test
 * and a call on every access) that libgust's C definition never has. */
#define GUST__THREAD_LOCAL __thread

#else

#include <stdatomic.h>

#define GUST__ATOMIC(type) _Atomic(type)
#define GUST__LOAD(object, order) atomic_load_explicit(object, memory_order_##order)
#define GUST__STORE(object, value, order) atomic_store_explicit(object, value, memory_order_##order)
#define GUST__ATOMIC_INIT(object, value) atomic_init(object, value)

#define GUST__ALIGNAS(bytes) _Alignas(bytes)
#define GUST__ALIGNOF(type) _Alignof(type)
#define GUST__STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#define GUST__THREAD_LOCAL _Thread_local

#endif

/* Each atomic type the public structs hold is its plain type in size and
 * alignment, in C as in C++: so an atomic field sits where the other
 * language expects it. */
#define GUST__ASSERT_PLAIN_ATOMIC(type)                                                            \
    GUST__STATIC_ASSERT(sizeof(GUST__ATOMIC(type)) == sizeof(type) &&                              \
                            GUST__ALIGNOF(GUST__ATOMIC(type)) == sizeof(type),                     \
                        "an atomic " #type " is laid out as a plain, naturally aligned one")
GUST__ASSERT_PLAIN_ATOMIC(bool);
GUST__ASSERT_PLAIN_ATOMIC(unsigned);
GUST__ASSERT_PLAIN_ATOMIC(uint64_t);
GUST__ASSERT_PLAIN_ATOMIC(uintptr_t);
GUST__ASSERT_PLAIN_ATOMIC(void *);
GUST__ASSERT_PLAIN_ATOMIC(void (*)(void *));

#endif

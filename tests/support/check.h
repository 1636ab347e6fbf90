/* Assertion macros for gust's tests (libuv's ASSERT_EQ family is the model).
 *
 * A failed check prints the expression, both values, file and line, then
 * aborts, so a sanitizer or the test runner sees the failure at once.
 * Checks are never compiled out: they stay on under -c opt. */
#ifndef GUST_TESTS_SUPPORT_CHECK_H
#define GUST_TESTS_SUPPORT_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_FAIL_(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__);                              \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        fflush(stderr);                                                                            \
        abort();                                                                                   \
    } while (0)

#define CHECK_CMP_(type, fmt, a, op, b)                                                            \
    do {                                                                                           \
        type check_a_ = (type)(a);                                                                 \
        type check_b_ = (type)(b);                                                                 \
        if (!(check_a_ op check_b_))                                                               \
            CHECK_FAIL_("%s %s %s (%" fmt " %s %" fmt ")", #a, #op, #b, check_a_, #op, check_b_);  \
    } while (0)

/* Signed integer comparisons. */
#define ASSERT_EQ(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, ==, b)
#define ASSERT_NE(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, !=, b)
#define ASSERT_LT(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, <, b)
#define ASSERT_LE(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, <=, b)
#define ASSERT_GT(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, >, b)
#define ASSERT_GE(a, b) CHECK_CMP_(intmax_t, PRIdMAX, a, >=, b)

/* Unsigned integer comparisons (counts, sizes). */
#define ASSERT_UEQ(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, ==, b)
#define ASSERT_UNE(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, !=, b)
#define ASSERT_ULT(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, <, b)
#define ASSERT_ULE(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, <=, b)
#define ASSERT_UGT(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, >, b)
#define ASSERT_UGE(a, b) CHECK_CMP_(uintmax_t, PRIuMAX, a, >=, b)

/* Pointers. */
#define ASSERT_PTR_EQ(a, b) CHECK_CMP_(const void *, "p", a, ==, b)
#define ASSERT_PTR_NE(a, b) CHECK_CMP_(const void *, "p", a, !=, b)
#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a) ASSERT_PTR_NE(a, NULL)

/* Booleans. */
#define ASSERT_TRUE(e)                                                                             \
    do {                                                                                           \
        if (!(e))                                                                                  \
            CHECK_FAIL_("%s is false", #e);                                                        \
    } while (0)
#define ASSERT_FALSE(e)                                                                            \
    do {                                                                                           \
        if (e)                                                                                     \
            CHECK_FAIL_("%s is true", #e);                                                         \
    } while (0)

/* NUL-terminated strings; NULL prints as (null). */
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *check_a_ = (a);                                                                \
        const char *check_b_ = (b);                                                                \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0)               \
            CHECK_FAIL_("%s == %s (\"%s\" == \"%s\")", #a, #b, check_a_ ? check_a_ : "(null)",     \
                        check_b_ ? check_b_ : "(null)");                                           \
    } while (0)

#endif

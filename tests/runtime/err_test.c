/* The one error space: errno values, the runtime's codes and the HTTP
 * layer's, each with one name and one message, and no number meaning two
 * things. */
#define _GNU_SOURCE /* strerrorname_np, strerrordesc_np */
#include "gust/err.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "gust/http_err.h"
#include "tests/support/check.h"

/* A code with a gust name, and the range its layer owns. */
typedef struct named_s {
    int code;
    const char *name;
    const char *message;
    int first, last;
} named_t;

static const named_t named[] = {
#define RUNTIME_(name, code, message)                                                              \
    {code, #name, message, GUST_ERR_RUNTIME_FIRST, GUST_ERR_RUNTIME_LAST},
    GUST_ERR_MAP(RUNTIME_)
#undef RUNTIME_
#define HTTP_(name, code, message) {code, #name, message, GUST_ERR_HTTP_FIRST, GUST_ERR_HTTP_LAST},
        GUST_HTTP_ERR_MAP(HTTP_)
#undef HTTP_
};

enum { NUM_NAMED = sizeof(named) / sizeof(named[0]) };

static bool is_errno(int code)
{
    return code < 0 && code >= -GUST_ERR_ERRNO_MAX;
}

static const named_t *find_named(int code)
{
    for (int i = 0; i < NUM_NAMED; i++) {
        if (named[i].code == code)
            return &named[i];
    }
    return NULL;
}

/* Every code of the space that has a name: each errno value the C library
 * defines, then gust's own codes. Returns how many. */
static int all_codes(int *out, int *out_largest_errno)
{
    int n = 0;
    *out_largest_errno = 0;
    for (int e = 1; e <= GUST_ERR_ERRNO_MAX; e++) {
        if (strerrorname_np(e) != NULL) {
            out[n++] = -e;
            *out_largest_errno = e;
        }
    }
    for (int i = 0; i < NUM_NAMED; i++) {
        if (!is_errno(named[i].code))
            out[n++] = named[i].code;
    }
    return n;
}

/* The collisions of the old numbering: errno values read as gust codes. */
static void test_errno_values_are_themselves(void)
{
    ASSERT_STR_EQ(gust_strerror(-EPERM), strerrordesc_np(EPERM));
    ASSERT_STR_EQ(gust_err_name(-EPERM), "EPERM");
    ASSERT_STR_EQ(gust_err_name(-ENOENT), "ENOENT");
    ASSERT_EQ(GUST_ERR_NOMEM, -ENOMEM);
    ASSERT_STR_EQ(gust_strerror(-ENOMEM), "out of memory");
    ASSERT_EQ(GUST_ERR_CONNECT_REFUSED, -ECONNREFUSED);
    ASSERT_STR_EQ(gust_err_name(-ECONNREFUSED), "CONNECT_REFUSED");
    ASSERT_EQ(GUST_ERR_CONN_RESET, -ECONNRESET);
    ASSERT_EQ(GUST_ERR_TIMEOUT, -ETIMEDOUT);
    ASSERT_EQ(GUST_ERR_CANCELLED, -ECANCELED);
}

/* Each errno value reads back as the C library's name and text, or as the
 * gust name and message that stands for it. */
static void test_errno_round_trip(void)
{
    for (int e = 1; e <= GUST_ERR_ERRNO_MAX; e++) {
        const named_t *alias = find_named(-e);
        if (strerrorname_np(e) == NULL) {
            ASSERT_TRUE(alias == NULL);
            ASSERT_STR_EQ(gust_err_name(-e), "UNKNOWN");
            ASSERT_STR_EQ(gust_strerror(-e), "unknown error");
        } else if (alias != NULL) {
            ASSERT_STR_EQ(gust_err_name(-e), alias->name);
            ASSERT_STR_EQ(gust_strerror(-e), alias->message);
        } else {
            ASSERT_STR_EQ(gust_err_name(-e), strerrorname_np(e));
            ASSERT_STR_EQ(gust_strerror(-e), strerrordesc_np(e));
        }
    }
}

/* gust's own codes lie in their layer's range, below every errno value with
 * room to spare; a gust name for an errno value names one the system has. */
static void test_ranges(void)
{
    int codes[GUST_ERR_ERRNO_MAX + NUM_NAMED];
    int largest_errno;
    all_codes(codes, &largest_errno);
    /* Linux defines up to 133; the space leaves room for thirty times that. */
    ASSERT_GE(largest_errno, ECONNREFUSED);
    ASSERT_LT(largest_errno * 30, GUST_ERR_ERRNO_MAX);
    ASSERT_LT(GUST_ERR_RUNTIME_FIRST, -GUST_ERR_ERRNO_MAX);
    ASSERT_LT(GUST_ERR_HTTP_FIRST, GUST_ERR_RUNTIME_LAST);
    for (int i = 0; i < NUM_NAMED; i++) {
        const named_t *c = &named[i];
        ASSERT_LT(c->code, 0);
        if (is_errno(c->code)) {
            ASSERT_NOT_NULL(strerrorname_np(-c->code));
        } else {
            ASSERT_LE(c->code, c->first);
            ASSERT_GE(c->code, c->last);
        }
        ASSERT_STR_EQ(gust_err_name(c->code), c->name);
        ASSERT_STR_EQ(gust_strerror(c->code), c->message);
    }
}

/* No number, name or message means two things anywhere in the space. */
static void test_unique(void)
{
    int codes[GUST_ERR_ERRNO_MAX + NUM_NAMED];
    int largest_errno;
    int n = all_codes(codes, &largest_errno);
    for (int i = 0; i < NUM_NAMED; i++) {
        for (int j = 0; j < i; j++)
            ASSERT_NE(named[i].code, named[j].code);
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            ASSERT_NE(codes[i], codes[j]);
            ASSERT_TRUE(strcmp(gust_err_name(codes[i]), gust_err_name(codes[j])) != 0);
            ASSERT_TRUE(strcmp(gust_strerror(codes[i]), gust_strerror(codes[j])) != 0);
        }
    }
}

/* 0 is success; a number that is no code says so. */
static void test_ok_and_unknown(void)
{
    ASSERT_STR_EQ(gust_err_name(GUST_OK), "OK");
    ASSERT_STR_EQ(gust_strerror(GUST_OK), "success");
    const int unknown[] = {1,
                           ENOMEM,
                           12345,
                           INT_MAX,
                           -4000,
                           -GUST_ERR_ERRNO_MAX - 1,
                           GUST_ERR_RUNTIME_FIRST + 1,
                           GUST_ERR_RUNTIME_LAST,
                           GUST_ERR_HTTP_LAST,
                           -7001,
                           INT_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        ASSERT_STR_EQ(gust_err_name(unknown[i]), "UNKNOWN");
        ASSERT_STR_EQ(gust_strerror(unknown[i]), "unknown error");
    }
}

int main(void)
{
    test_errno_values_are_themselves();
    test_errno_round_trip();
    test_ranges();
    test_unique();
    test_ok_and_unknown();
    ASSERT_STR_EQ(gust_err_name(GUST_ERR_TIMEOUT), "TIMEOUT");
    ASSERT_STR_EQ(gust_strerror(GUST_ERR_CERT_EXPIRED), "certificate has expired");
    return 0;
}

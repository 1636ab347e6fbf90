/* gust_err codes: negative, distinct, each with its own name and message. */
#include "gust/err.h"

#include "tests/support/check.h"

static const int all_codes[] = {
#define CODE_(name, number, message) GUST_ERR_##name,
    GUST_ERR_MAP(CODE_)
#undef CODE_
};

enum { NUM_CODES = sizeof(all_codes) / sizeof(all_codes[0]) };

int main(void)
{
    ASSERT_STR_EQ(gust_err_name(GUST_OK), "OK");
    ASSERT_STR_EQ(gust_strerror(GUST_OK), "success");
    ASSERT_EQ(GUST_ERR_NOMEM, -1);
    ASSERT_EQ(GUST_ERR_TIMEOUT, -4);
    ASSERT_STR_EQ(gust_err_name(GUST_ERR_TIMEOUT), "TIMEOUT");
    ASSERT_STR_EQ(gust_strerror(GUST_ERR_CERT_EXPIRED), "certificate has expired");
    for (int i = 0; i < NUM_CODES; i++) {
        ASSERT_LT(all_codes[i], 0);
        ASSERT_TRUE(strcmp(gust_err_name(all_codes[i]), "UNKNOWN") != 0);
        ASSERT_TRUE(strcmp(gust_strerror(all_codes[i]), "unknown error") != 0);
        for (int j = 0; j < i; j++) {
            ASSERT_NE(all_codes[i], all_codes[j]);
            ASSERT_TRUE(strcmp(gust_strerror(all_codes[i]), gust_strerror(all_codes[j])) != 0);
        }
    }
    /* Codes are numbered 1..N with no gap, so the next one is obvious. */
    ASSERT_EQ(all_codes[NUM_CODES - 1], -NUM_CODES);
    ASSERT_STR_EQ(gust_err_name(-NUM_CODES - 1), "UNKNOWN");
    ASSERT_STR_EQ(gust_strerror(12345), "unknown error");
    return 0;
}

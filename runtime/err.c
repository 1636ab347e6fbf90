/* Messages and names of gust_err codes, generated from GUST_ERR_MAP. */
#include "gust/err.h"

const char *gust_strerror(int err)
{
    switch (err) {
    case GUST_OK:
        return "success";
#define GUST_ERR_MESSAGE_(name, number, message)                                                   \
    case GUST_ERR_##name:                                                                          \
        return message;
        GUST_ERR_MAP(GUST_ERR_MESSAGE_)
#undef GUST_ERR_MESSAGE_
    }
    return "unknown error";
}

const char *gust_err_name(int err)
{
    switch (err) {
    case GUST_OK:
        return "OK";
#define GUST_ERR_NAME_(name, number, message)                                                      \
    case GUST_ERR_##name:                                                                          \
        return #name;
        GUST_ERR_MAP(GUST_ERR_NAME_)
#undef GUST_ERR_NAME_
    }
    return "UNKNOWN";
}

/* The version of the library linked (gust/version.h). */
#include "gust/version.h"

#define GUST_STRINGIFY_(x) #x
#define GUST_STRINGIFY(x) GUST_STRINGIFY_(x)

const char *gust_version_string(void)
{
    return GUST_STRINGIFY(GUST_VERSION_MAJOR) "." GUST_STRINGIFY(
        GUST_VERSION_MINOR) "." GUST_STRINGIFY(GUST_VERSION_PATCH);
}

unsigned gust_version(void)
{
    return GUST_VERSION_HEX;
}

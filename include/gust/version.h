/* gust/version.h: the version of gust's headers and library.
 *
 * Versions follow semantic versioning: MAJOR changes when the API or ABI
 * breaks (and with it libgust.so's SONAME), MINOR when something is added,
 * PATCH for fixes only. */
#ifndef GUST_VERSION_H
#define GUST_VERSION_H

#include "gust/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GUST_VERSION_MAJOR 0
#define GUST_VERSION_MINOR 1
#define GUST_VERSION_PATCH 0

/* The version as one number, (major << 16) | (minor << 8) | patch, for
 * comparisons in the preprocessor. */
#define GUST_VERSION_HEX                                                                           \
    ((GUST_VERSION_MAJOR << 16) | (GUST_VERSION_MINOR << 8) | GUST_VERSION_PATCH)

/* gust_version_string returns the version of the library linked, "0.1.0"
 * (static; it may differ from the headers' GUST_VERSION_* when a program
 * runs with another build of libgust.so). Any thread. */
GUST_EXTERN const char *gust_version_string(void);

/* gust_version returns the library's GUST_VERSION_HEX. Any thread. */
GUST_EXTERN unsigned gust_version(void);

#ifdef __cplusplus
}
#endif

#endif

/* gust/export.h: what marks gust's public symbols.
 *
 * gust is compiled with -fvisibility=hidden: a symbol is exported from
 * libgust.so only when its declaration in a public header says GUST_EXTERN.
 * The internal symbols that the inline fast paths of task groups call from
 * the user's code (gust/pool_inline.h) are marked too; they start with gust__
 * and are no API. */
#ifndef GUST_EXPORT_H
#define GUST_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define GUST_EXTERN __attribute__((visibility("default")))
#else
#define GUST_EXTERN
#endif

#endif

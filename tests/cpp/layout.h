/* The layout of gust's public structs as one language sees it: sizes,
 * alignments and the offsets of the fields the inline fast paths share
 * between libgust (C) and a C++ caller. layout_c.c and layout_cc.cc compile
 * the same list, and layout_test compares the two tables. */
#ifndef GUST_TESTS_CPP_LAYOUT_H
#define GUST_TESTS_CPP_LAYOUT_H

#include <stddef.h>

#include "gust/client.h"
#include "gust/map.h"
#include "gust/pool.h"
#include "gust/reactor.h"
#include "gust/response.h"
#include "gust/url.h"

/* STRUCT(type): a struct's size and alignment; FIELD(type, field): the
 * offset of one field. */
#define GUST_LAYOUT_MAP(STRUCT, FIELD)                                                             \
    STRUCT(gust_group_t)                                                                           \
    FIELD(gust_group_t, owner)                                                                     \
    FIELD(gust_group_t, local)                                                                     \
    FIELD(gust_group_t, remote)                                                                    \
    STRUCT(gust__task_t)                                                                           \
    STRUCT(gust__slot_t)                                                                           \
    FIELD(gust__slot_t, fn)                                                                        \
    FIELD(gust__slot_t, arg)                                                                       \
    FIELD(gust__slot_t, group)                                                                     \
    STRUCT(gust__ring_t)                                                                           \
    FIELD(gust__ring_t, mirrored)                                                                  \
    FIELD(gust__ring_t, older)                                                                     \
    FIELD(gust__ring_t, slots)                                                                     \
    STRUCT(gust__deque_t)                                                                          \
    FIELD(gust__deque_t, tail_split)                                                               \
    FIELD(gust__deque_t, ring)                                                                     \
    FIELD(gust__deque_t, split_wanted)                                                             \
    FIELD(gust__deque_t, top)                                                                      \
    FIELD(gust__deque_t, push_end)                                                                 \
    FIELD(gust__deque_t, pop_end)                                                                  \
    FIELD(gust__deque_t, lap_base)                                                                 \
    FIELD(gust__deque_t, split)                                                                    \
    FIELD(gust__deque_t, push_limit)                                                               \
    FIELD(gust__deque_t, owner_ring)                                                               \
    STRUCT(gust__worker_front_t)                                                                   \
    FIELD(gust__worker_front_t, pool)                                                              \
    FIELD(gust__worker_front_t, tasks_run)                                                         \
    FIELD(gust__worker_front_t, spawned)                                                           \
    STRUCT(gust_pool_idle_hooks_t)                                                                 \
    STRUCT(gust_pool_opts_t)                                                                       \
    STRUCT(gust_worker_stats_t)                                                                    \
    STRUCT(gust_runtime_opts_t)                                                                    \
    STRUCT(gust_header_t)                                                                          \
    STRUCT(gust_client_opts_t)                                                                     \
    STRUCT(gust_request_t)                                                                         \
    STRUCT(gust_client_stats_t)                                                                    \
    STRUCT(gust_timings_t)                                                                         \
    STRUCT(gust_map_result_t)                                                                      \
    STRUCT(gust_map_opts_t)                                                                        \
    STRUCT(gust_url_t)

#define GUST_LAYOUT_STRUCT_VALUES_(type) sizeof(type), GUST__ALIGNOF(type),
#define GUST_LAYOUT_FIELD_VALUE_(type, field) offsetof(type, field),

#ifdef __cplusplus
extern "C" {
#endif

/* The tables, in the order of GUST_LAYOUT_MAP, as C and as C++ see them. */
extern const size_t gust_test_layout_c[];
extern const size_t gust_test_layout_cc[];

#ifdef __cplusplus
}
#endif

#endif

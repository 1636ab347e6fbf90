/* The layout table as C sees it. */
#include "tests/cpp/layout.h"

const size_t gust_test_layout_c[] = {
    GUST_LAYOUT_MAP(GUST_LAYOUT_STRUCT_VALUES_, GUST_LAYOUT_FIELD_VALUE_)};

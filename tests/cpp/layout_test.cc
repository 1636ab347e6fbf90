// Every public struct, and every field the inline fast paths share, has the
// same size, alignment and offset in C as in C++: libgust is C, and a C++
// caller inlines gust/pool_inline.h against the same memory.
#include <cstdio>
#include <iterator>

#include "tests/cpp/layout.h"
#include "tests/support/check.h"

namespace
{

#define STRUCT_NAMES_(type) #type " size", #type " alignment",
#define FIELD_NAME_(type, field) #type "." #field " offset",
const char *const kNames[] = {GUST_LAYOUT_MAP(STRUCT_NAMES_, FIELD_NAME_)};

} // namespace

int main()
{
    for (size_t i = 0; i < std::size(kNames); i++) {
        std::printf("%s: C %zu, C++ %zu\n", kNames[i], gust_test_layout_c[i],
                    gust_test_layout_cc[i]);
        ASSERT_UEQ(gust_test_layout_cc[i], gust_test_layout_c[i]);
    }
    return 0;
}

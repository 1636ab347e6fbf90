/* ThreadSanitizer suppressions for liburcu, linked into every test that
 * uses the HTTP client's lock-free tables.
 *
 * liburcu is not built with TSan: its own synchronisation (futexes and
 * hand-written atomics in the table's resize workqueue and in RCU grace
 * periods) is invisible to TSan, which then reports the memory handed
 * between its threads as races. These lines silence reports whose accesses
 * come from inside liburcu only; gust's own uses of the tables stay checked. */
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:liburcu-cds.so.8\n"
           "called_from_lib:liburcu-common.so.8\n"
           "called_from_lib:liburcu-memb.so.8\n";
}

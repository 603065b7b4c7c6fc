/*
 * test_soak_short.c: soak/soak.c for 3 seconds, so `make check` runs a short soak; the
 * long run is `make soak SECONDS=N`. What it checks is described at the top of
 * soak/soak.c: every item exactly once, serial order, barriers, suspension, sources,
 * threads and RSS bounded, no hang. Passes when the soak reports no violation.
 */
#define SOAK_DEFAULT_SECONDS 3
#define SOAK_NO_MAIN
#include "../soak/soak.c"

int main(void)
{
    return soak_main(SOAK_DEFAULT_SECONDS);
}

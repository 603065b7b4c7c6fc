/*
 * The export table: every name the reference Linux libdispatch exports
 * (tests/abi/reference-exports.txt) is exported here, except those listed in
 * tests/abi/not-yet-exported.txt, which must really be missing (the list only shrinks);
 * and no internal name leaks (every export is a reference name or has a dispatch/Blocks
 * prefix). A binary built against the reference that uses a missing name fails to start.
 * And every exported data object is no larger than the reference's
 * (tests/abi/reference-symbols.txt): a non-PIE program holds copy relocations of them with
 * the reference's size.
 */
#include "check.h"
#include <dlfcn.h>

#define MAX_NAMES 1024
static char *ours[MAX_NAMES], *ref[MAX_NAMES], *pending[MAX_NAMES];
static unsigned long our_size[MAX_NAMES];
static int n_ours, n_ref, n_pending;

static int read_list(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (run from the repository root)", path);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, " \t\n")] = 0;
        CHECK(n < MAX_NAMES, "too many names");
        out[n++] = strdup(line);
    }
    fclose(f);
    return n;
}

static bool contains(char **list, int n, const char *name)
{
    for (int i = 0; i < n; i++) if (strcmp(list[i], name) == 0) return true;
    return false;
}

int main(void)
{
    test_start("exports match the reference", 30);
    Dl_info info;
    CHECK(dladdr((void *)dispatch_async_f, &info) && info.dli_fname, "dladdr");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "nm -D -S --defined-only '%s'", info.dli_fname);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "popen nm");
    char line[512];
    while (fgets(line, sizeof line, p)) {
        char addr[64], size[64], type[8], name[400];
        if (sscanf(line, "%63s %63s %7s %399s", addr, size, type, name) == 4) {
            CHECK(n_ours < MAX_NAMES, "too many exports");
            our_size[n_ours] = strtoul(size, NULL, 16);
            ours[n_ours++] = strdup(name);
        } else if (sscanf(line, "%63s %7s %399s", addr, type, name) == 3) {
            CHECK(n_ours < MAX_NAMES, "too many exports");
            ours[n_ours++] = strdup(name);
        }
    }
    CHECK(pclose(p) == 0, "nm failed (binutils installed?)");
    CHECK(n_ours > 100, "only %d exports read from %s", n_ours, info.dli_fname);
    n_ref = read_list("tests/abi/reference-exports.txt", ref);
    n_pending = read_list("tests/abi/not-yet-exported.txt", pending);

    int bad = 0;
    for (int i = 0; i < n_ref; i++) {
        bool exported = contains(ours, n_ours, ref[i]);
        bool listed = contains(pending, n_pending, ref[i]);
        if (!exported && !listed) { fprintf(stderr, "missing export: %s\n", ref[i]); bad++; }
        if (exported && listed) { fprintf(stderr, "exported but listed in not-yet-exported.txt: %s\n", ref[i]); bad++; }
    }
    for (int i = 0; i < n_pending; i++) {
        if (!contains(ref, n_ref, pending[i])) { fprintf(stderr, "not a reference name: %s\n", pending[i]); bad++; }
    }
    static const char *prefixes[] = { "dispatch_", "_dispatch_", "_os_object", "libdispatch_", "_Block",
                                      "Block_", "qos_class_", "_NS" };
    for (int i = 0; i < n_ours; i++) {
        bool ok = contains(ref, n_ref, ours[i]);
        for (size_t k = 0; !ok && k < sizeof prefixes / sizeof *prefixes; k++)
            ok = strncmp(ours[i], prefixes[k], strlen(prefixes[k])) == 0;
        if (!ok) { fprintf(stderr, "internal name exported: %s\n", ours[i]); bad++; }
    }
    FILE *sizes = fopen("tests/abi/reference-symbols.txt", "r");
    CHECK(sizes != NULL, "cannot open tests/abi/reference-symbols.txt");
    int data_objects = 0;
    while (fgets(line, sizeof line, sizes)) {
        char name[400], kind[32];
        unsigned long ref_size;
        if (line[0] == '#' || sscanf(line, "%399s %31s %lu", name, kind, &ref_size) != 3 || strcmp(kind, "data"))
            continue;
        data_objects++;
        for (int i = 0; i < n_ours; i++)
            if (strcmp(ours[i], name) == 0 && our_size[i] > ref_size) {
                fprintf(stderr, "data object %s is %lu bytes, the reference's %lu\n", name, our_size[i], ref_size);
                bad++;
            }
    }
    fclose(sizes);
    CHECK(data_objects > 20, "only %d data objects in reference-symbols.txt", data_objects);
    CHECK(bad == 0, "%d export problems (see above)", bad);
    printf("%d exports, %d reference names, %d not yet exported\n", n_ours, n_ref, n_pending);
    OK("exports match the reference");
    return 0;
}

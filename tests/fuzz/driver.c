/* main() for a fuzz target outside --config=fuzz: runs LLVMFuzzerTestOneInput
 * once on each file named, or on each file of each directory named, so the
 * committed corpus runs as a plain test (and under asan) without libFuzzer.
 * Under --config=fuzz libFuzzer's own main takes this one's place. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned num_run;

/* Reads the file into a block of exactly its size, as libFuzzer passes
 * inputs, so ASan sees any read past the end. */
static void run_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(len > 0 ? len : 1);
    if (f == NULL || data == NULL || fread(data, 1, len, f) != len) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(1);
    }
    fclose(f);
    /* Named first, so a failing input is the last one printed. */
    printf("%s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    num_run++;
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path, (size_t)st.st_size);
        return;
    }
    struct dirent **entries;
    int num = scandir(path, &entries, NULL, alphasort);
    if (num < 0) {
        perror(path);
        exit(1);
    }
    for (int i = 0; i < num; i++) {
        if (entries[i]->d_name[0] != '.') {
            char child[4096];
            snprintf(child, sizeof(child), "%s/%s", path, entries[i]->d_name);
            run_path(child);
        }
        free(entries[i]);
    }
    free(entries);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("%u inputs run\n", num_run);
    return num_run > 0 ? 0 : 1;
}

/*
 * onefile.c - replays fuzzer inputs without libFuzzer (the idea of libpcap's testprogs/fuzz/onefile.c).
 *
 * usage: fuzz_X_replay FILE|DIR...   Every file (directories are read one level deep) is passed to
 * LLVMFuzzerTestOneInput once. CTest runs the committed corpus through it on every build, so the sanitizer
 * build checks every input any fuzzer ever kept.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open '%s'\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    /* a copy of exactly n bytes, so ASan sees any read past the input */
    uint8_t *exact = malloc(n > 0 ? (size_t)n : 1);
    if (!exact) return 1;
    memcpy(exact, buf, (size_t)n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, (size_t)n);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot open '%s'\n", argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += run_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
            errors += run_file(path);
            files++;
        }
        if (d) closedir(d);
    }
    printf("replayed %d inputs: %d passed, %d failed\n", files, files - errors, errors);
    return errors || files == 0;
}

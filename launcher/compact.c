/*
 * compact: see compact.h. Every line but padding records is copied as it
 * is, except that a record a kill cut short keeps one space of the
 * padding that followed it (which is how readers recognise it) instead of
 * thousands.
 */
#include "compact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <jansson.h>

#define PAD_RECORD "{\"k\":\"pad\","
#define PAD_KEY "\"k\":\"pad\""

/* Whether a process other than us has the file (device, inode) mapped. */
static bool mapped_by_a_process(dev_t dev, ino_t ino)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    bool found = false;
    if (!proc)
        return true;    /* cannot tell: assume it is */
    while (!found && (e = readdir(proc))) {
        char maps[300], *line = NULL;
        size_t cap = 0;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(maps, sizeof maps, "/proc/%s/maps", e->d_name);
        FILE *f = fopen(maps, "r");
        if (!f)
            continue;   /* gone, or not ours to read (nor could it write our 0600 file) */
        while (!found && getline(&line, &cap, f) > 0) {
            unsigned maj, min;
            unsigned long long inode;
            if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3)
                found = inode == (unsigned long long)ino && makedev(maj, min) == dev;
        }
        free(line);
        fclose(f);
    }
    closedir(proc);
    return found;
}

/* A padding record, or the padding a record that a kill cut short left
 * after it (its head overwritten: spaces, then "}). */
static bool holds_padding(FILE *f)
{
    static const char spaces_end[] = "                \"}\n";
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool found = false;
    while (!found && (n = getline(&line, &cap, f)) > 0)
        found = memmem(line, (size_t)n, PAD_KEY, sizeof PAD_KEY - 1) != NULL
                || ((size_t)n >= sizeof spaces_end - 1
                    && memcmp(line + n - (sizeof spaces_end - 1), spaces_end, sizeof spaces_end - 1) == 0);
    free(line);
    return found;
}

/* A line that is no JSON and ends in the padding's spaces and "}: the end
 * of what a killed process wrote. Returns its length with one space left. */
static size_t without_padding_spaces(char *line, size_t len)
{
    if (len < 4 || memcmp(line + len - 3, " \"}", 3) != 0)
        return len;
    json_t *j = json_loadb(line, len, 0, NULL);
    if (j) {
        json_decref(j);
        return len;
    }
    size_t space = len - 3;
    while (space > 0 && line[space - 1] == ' ')
        space--;
    memmove(line + space + 1, line + len - 2, 2);
    return space + 3;
}

static int copy_without_padding(FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool piece = false;     /* the line is a piece of a longer record: copied as is */
    int err = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        size_t len = (size_t)n - (line[n - 1] == '\n');
        bool pad = !piece && len >= sizeof PAD_RECORD - 1 && memcmp(line, PAD_RECORD, sizeof PAD_RECORD - 1) == 0;
        if (!pad) {
            size_t keep = piece ? len : without_padding_spaces(line, len);
            if (fwrite(line, 1, keep, out) != keep || (line[n - 1] == '\n' && putc('\n', out) == EOF)) {
                err = errno ? errno : EIO;
                break;
            }
        }
        piece = !piece && len > 10 && memcmp(line, "{\"k\":\"part\"", 11) == 0;
    }
    if (!err && ferror(in))
        err = errno ? errno : EIO;
    free(line);
    return err;
}

int trace_compact(const char *path, bool *dropped)
{
    *dropped = false;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno;
    /* The agent's lock (collector/writer.c): no region is appended meanwhile. */
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    struct stat st;
    int err = 0;
    while (fcntl(fd, F_OFD_SETLKW, &lock) < 0)
        if (errno != EINTR) {
            close(fd);
            return errno;
        }
    FILE *in = fdopen(fd, "r");
    if (!in || fstat(fd, &st) != 0) {
        err = errno;
        if (in)
            fclose(in);
        else
            close(fd);
        return err;
    }
    if (!holds_padding(in)) {
        fclose(in);
        return 0;
    }
    if (mapped_by_a_process(st.st_dev, st.st_ino)) {
        fclose(in);
        return EBUSY;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.compact.XXXXXX", path);
    int out_fd = mkstemp(tmp);
    FILE *out = out_fd >= 0 ? fdopen(out_fd, "w") : NULL;
    if (!out) {
        err = errno;
        if (out_fd >= 0)
            close(out_fd);
        fclose(in);
        return err;
    }
    rewind(in);
    err = copy_without_padding(in, out);
    if (!err && (fchmod(out_fd, st.st_mode & 07777) != 0 || fflush(out) != 0))
        err = errno;
    if (fclose(out) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err)
        unlink(tmp);
    else
        *dropped = true;
    fclose(in);     /* and with it the lock */
    return err;
}

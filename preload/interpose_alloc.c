/*
 * interpose_alloc: the exported allocation functions, the front end of
 * heap accounting (collector/heap.h).
 *
 * Each hook forwards to the next definition (RTLD_NEXT: normally glibc)
 * and, while heap_enable(true) is in force, counts what it got: usable
 * sizes for malloc and friends, so that a block counts the same when it
 * is freed; pages for anonymous private mmap, munmap and mremap. Until the
 * agent enables accounting (and in every process that is not Python) the
 * hooks only forward.
 *
 * The real functions are found with dlsym on the first call. dlsym may
 * call calloc or malloc itself: on the thread that is resolving, those
 * are served from a static bump arena whose blocks never reach the real
 * free. A thread-local guard keeps a hook that the real allocator reaches
 * again (an allocator whose calloc calls malloc) from counting twice.
 * Nothing here takes a lock or allocates, so the hooks are as safe in a
 * signal handler or a fork child as the functions they forward to.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap.h"

#define EXPORT __attribute__((visibility("default")))
#define IE __attribute__((tls_model("initial-exec")))
#define unlikely(x) __builtin_expect(!!(x), 0)

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*usable_size)(void *);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
} real;

static int resolved;            /* real.* are set */
static bool complete;           /* and all of them were found: counting is possible */
static __thread bool resolving IE;
static __thread bool busy IE;   /* inside a counting hook on this thread */

/* ---- the bump arena for dlsym's own allocations ---- */

static char arena[16384] __attribute__((aligned(16)));
static size_t arena_used;

/* Zeroed (never reused), 16-aligned, the size kept in front for realloc. */
static void *arena_alloc(size_t n)
{
    if (n > sizeof arena) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = 16 + ((n + 15) & ~(size_t)15);
    size_t off = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
    if (off + need > sizeof arena) {
        errno = ENOMEM;
        return NULL;
    }
    *(size_t *)(arena + off) = n;
    return arena + off + 16;
}

static inline bool in_arena(const void *p)
{
    return (uintptr_t)p - (uintptr_t)arena < sizeof arena;
}

/* ---- resolution ---- */

static void *find(const char *name, const char *fallback)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f && fallback)
        f = dlsym(RTLD_DEFAULT, fallback);
    return f;
}

#define FIND(field, name, fallback) \
    __atomic_store_n((void **)&real.field, find(name, fallback), __ATOMIC_RELAXED)

/* Two threads may both get here first: they store the same values. */
static void resolve(void)
{
    resolving = true;
    FIND(malloc, "malloc", "__libc_malloc");
    FIND(free, "free", "__libc_free");
    FIND(calloc, "calloc", "__libc_calloc");
    FIND(realloc, "realloc", "__libc_realloc");
    FIND(posix_memalign, "posix_memalign", NULL);
    FIND(aligned_alloc, "aligned_alloc", NULL);
    FIND(memalign, "memalign", "__libc_memalign");
    FIND(valloc, "valloc", "__libc_valloc");
    FIND(pvalloc, "pvalloc", "__libc_pvalloc");
    FIND(usable_size, "malloc_usable_size", NULL);
    FIND(mmap, "mmap", NULL);
    FIND(munmap, "munmap", NULL);
    FIND(mremap, "mremap", NULL);
    complete = real.malloc && real.free && real.calloc && real.realloc && real.posix_memalign
               && real.aligned_alloc && real.memalign && real.valloc && real.pvalloc
               && real.usable_size && real.mmap && real.munmap && real.mremap;
    resolving = false;
    __atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
}

/* False only on the thread that is inside dlsym: serve it from the arena. */
static inline bool ready(void)
{
    if (__builtin_expect(__atomic_load_n(&resolved, __ATOMIC_ACQUIRE), 1))
        return true;
    if (resolving)
        return false;
    resolve();
    return true;
}

/* Whether this call counts; if so the guard is taken (release with done()). */
static inline bool counting(void)
{
    if (!heap_enabled() || busy || !complete)
        return false;
    busy = true;
    return true;
}

static inline void done(void)
{
    busy = false;
}

/* ---- malloc and friends ---- */

static inline void *counted(void *p)
{
    if (p)
        heap_count_alloc(real.usable_size(p));
    done();
    return p;
}

EXPORT void *malloc(size_t n)
{
    if (unlikely(!ready()))
        return arena_alloc(n);
    if (!counting())
        return real.malloc(n);
    return counted(real.malloc(n));
}

EXPORT void free(void *p)
{
    if (!p || in_arena(p) || unlikely(!ready()))
        return;     /* arena blocks stay; a foreign block during dlsym leaks */
    if (!counting()) {
        real.free(p);
        return;
    }
    heap_count_free(real.usable_size(p));
    real.free(p);
    done();
}

EXPORT void *calloc(size_t k, size_t n)
{
    if (unlikely(!ready())) {
        size_t total;
        if (__builtin_mul_overflow(k, n, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return arena_alloc(total);
    }
    if (!counting())
        return real.calloc(k, n);
    return counted(real.calloc(k, n));
}

/* A block of the arena grows into a real one; the old one stays. */
static void *arena_realloc(void *p, size_t n)
{
    size_t old = *(size_t *)((char *)p - 16);
    void *q = malloc(n);
    if (q)
        memcpy(q, p, old < n ? old : n);
    return q;
}

EXPORT void *realloc(void *p, size_t n)
{
    if (p && in_arena(p))
        return arena_realloc(p, n);
    if (unlikely(!ready()))
        return p ? NULL : arena_alloc(n);
    if (!counting())
        return real.realloc(p, n);
    size_t old = p ? real.usable_size(p) : 0;
    void *q = real.realloc(p, n);
    /* Counted as a free then an allocation (the peak sees no overlap). A
     * NULL result frees p only when n is 0 (glibc); else p is intact. */
    if (old && (q || n == 0))
        heap_count_free(old);
    return counted(q);
}

EXPORT void *reallocarray(void *p, size_t k, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(k, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (unlikely(!ready()))
        return ENOMEM;
    if (!counting())
        return real.posix_memalign(out, align, n);
    int r = real.posix_memalign(out, align, n);
    counted(r == 0 ? *out : NULL);
    return r;
}

/* The other aligned allocators: the same shape, no arena (dlsym uses none). */
#define ALIGNED_HOOK(name, params, args)            \
    EXPORT void *name params                        \
    {                                               \
        if (unlikely(!ready())) {                   \
            errno = ENOMEM;                         \
            return NULL;                            \
        }                                           \
        if (!counting())                            \
            return real.name args;                  \
        return counted(real.name args);             \
    }

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t n), (align, n))
ALIGNED_HOOK(memalign, (size_t align, size_t n), (align, n))
ALIGNED_HOOK(valloc, (size_t n), (n))
ALIGNED_HOOK(pvalloc, (size_t n), (n))

/* ---- anonymous mappings ---- */

static inline bool anonymous_private(int prot, int flags)
{
    return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE && prot != PROT_NONE;
}

static void *map(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (unlikely(!ready()))
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (!counting())
        return real.mmap(addr, len, prot, flags, fd, off);
    /* Pages are unmarked before any system call that unmaps them: once
     * unmapped, another thread may map and mark the same addresses. */
    size_t replaced = (flags & MAP_FIXED) ? heap_map_clear(addr, len) : 0;
    void *p = real.mmap(addr, len, prot, flags, fd, off);
    int saved = errno;
    if (p != MAP_FAILED) {
        if (replaced)
            heap_count_free(replaced);
        if (anonymous_private(prot, flags))
            heap_map_add(p, len);
    } else if (replaced) {
        heap_map_restore(addr, len, replaced);
    }
    errno = saved;
    done();
    return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return map(addr, len, prot, flags, fd, off);
}

/* What programs built with _FILE_OFFSET_BITS=64 call (Debian's python3.11
 * does); the same function on 64-bit systems. */
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return map(addr, len, prot, flags, fd, (off_t)off);
}

EXPORT int munmap(void *addr, size_t len)
{
    if (unlikely(!ready()))
        return (int)syscall(SYS_munmap, addr, len);
    if (!counting())
        return real.munmap(addr, len);
    size_t cleared = heap_map_clear(addr, len);
    int r = real.munmap(addr, len);
    int saved = errno;
    if (r == 0 && cleared)
        heap_count_free(cleared);
    else if (cleared)
        heap_map_restore(addr, len, cleared);
    errno = saved;
    done();
    return r;
}

/* Counted like realloc: the old pages freed, the new ones allocated, when
 * the old range was an anonymous mapping of ours. */
EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (unlikely(!ready()))
        return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
    if (old_len == 0 || !counting())
        return real.mremap(old, old_len, new_len, flags, new_addr);
    bool keep_old = flags & MREMAP_DONTUNMAP;
    size_t was = keep_old ? heap_map_marked(old, old_len) : heap_map_clear(old, old_len);
    size_t replaced = (flags & MREMAP_FIXED) ? heap_map_clear(new_addr, new_len) : 0;
    void *p = real.mremap(old, old_len, new_len, flags, new_addr);
    int saved = errno;
    if (p != MAP_FAILED) {
        if (replaced)
            heap_count_free(replaced);
        if (was && !keep_old)
            heap_count_free(was);
        if (was)
            heap_map_add(p, new_len);
    } else {
        if (was && !keep_old)
            heap_map_restore(old, old_len, was);
        if (replaced)
            heap_map_restore(new_addr, new_len, replaced);
    }
    errno = saved;
    done();
    return p;
}

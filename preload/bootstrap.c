/*
 * bootstrap: the Python side (the .py files in preload/), compiled into the library as
 * NUL-terminated strings, so the agent needs no file next to it at run
 * time. preload/pyside.c runs bootstrap.py at start-up and compiles the
 * others when first needed.
 */
#define EMBED(symbol, file)                          \
    __asm__(".section .rodata\n"                     \
            ".global " #symbol "\n"                  \
            ".hidden " #symbol "\n"                  \
            ".type " #symbol ", @object\n"           \
            #symbol ":\n"                            \
            ".incbin \"" file "\"\n"                 \
            ".byte 0\n"                              \
            ".previous\n")

EMBED(memprof_bootstrap_py, "preload/bootstrap.py");
EMBED(memprof_profile_impl_py, "preload/profile_impl.py");
EMBED(memprof_profile_gen_py, "preload/profile_gen.py");
EMBED(memprof_profile_select_py, "preload/profile_select.py");
EMBED(memprof_profile_timestamp_py, "preload/profile_timestamp.py");
EMBED(memprof_public_py, "preload/public.py");
EMBED(memprof_compat_py, "preload/compat.py");

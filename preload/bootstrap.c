/*
 * bootstrap: preload/bootstrap.py, compiled into the library as a string
 * (NUL-terminated), so the agent needs no file next to it at run time.
 */
__asm__(".section .rodata\n"
        ".global memprof_bootstrap_py\n"
        ".hidden memprof_bootstrap_py\n"
        ".type memprof_bootstrap_py, @object\n"
        "memprof_bootstrap_py:\n"
        ".incbin \"preload/bootstrap.py\"\n"
        ".byte 0\n"
        ".previous\n");

/*
 * bootstrap: preload/bootstrap.py and preload/profile_impl.py, compiled
 * into the library as strings (NUL-terminated), so the agent needs no file
 * next to it at run time.
 */
__asm__(".section .rodata\n"
        ".global memprof_bootstrap_py\n"
        ".hidden memprof_bootstrap_py\n"
        ".type memprof_bootstrap_py, @object\n"
        "memprof_bootstrap_py:\n"
        ".incbin \"preload/bootstrap.py\"\n"
        ".byte 0\n"
        ".previous\n");
__asm__(".section .rodata\n"
        ".global memprof_profile_impl_py\n"
        ".hidden memprof_profile_impl_py\n"
        ".type memprof_profile_impl_py, @object\n"
        "memprof_profile_impl_py:\n"
        ".incbin \"preload/profile_impl.py\"\n"
        ".byte 0\n"
        ".previous\n");

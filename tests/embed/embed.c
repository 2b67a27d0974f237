/*
 * A program that embeds Python through Py_Initialize, as applications
 * with a scripting layer do: the agent must get in here too. It runs the
 * script named on its command line as __main__.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: embed SCRIPT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    Py_Initialize();
    int rc = PyRun_SimpleFileExFlags(f, argv[1], 1, NULL);
    if (Py_FinalizeEx() < 0)
        rc = 120;
    return rc == 0 ? 0 : 1;
}

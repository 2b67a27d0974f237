"""Finding and loading the agent, libmemprof.so, into this interpreter.

Under the launcher or LD_PRELOAD the agent is already in the process (it
exports memprof_attach); otherwise the package's own copy is loaded with
ctypes. Either way memprof_attach installs it into the running interpreter
and hands back the namespace of its Python side, whose `_c` holds the
agent's C functions.
"""
import ctypes
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
LIB_DIR = os.path.join(_HERE, "_lib")


def _installed_lib_dir():
    # `make install` puts the agent in PREFIX/lib/memprof and the commands in
    # PREFIX/bin; the package's own copy (pip) is in _lib/.
    return LIB_DIR


def library_path():
    return os.path.join(_installed_lib_dir(), "libmemprof.so")


def command_path(name):
    return os.path.join(_installed_lib_dir(), name)


_namespace = None
_preloaded = None


def _load_library():
    # Loaded into a running program, the agent keeps its tables in the
    # process (memprof.table) and writes no trace file unless MEMPROF_OUTPUT
    # or MEMPROF_FD asks for one: its events go to /dev/null. The variable
    # is set only while the constructor reads it.
    env = os.environ
    null_fd = None
    if not env.get("MEMPROF_OUTPUT") and not env.get("MEMPROF_FD"):
        null_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        env["MEMPROF_FD"] = str(null_fd)
    try:
        return ctypes.PyDLL(library_path(), mode=ctypes.RTLD_GLOBAL)
    finally:
        if null_fd is not None:
            del env["MEMPROF_FD"]


def _attach_function():
    global _preloaded
    try:
        attach = ctypes.PyDLL(None).memprof_attach
        _preloaded = True
    except AttributeError:
        _preloaded = False
        attach = _load_library().memprof_attach
    attach.restype = ctypes.py_object
    attach.argtypes = []
    return attach



def namespace():
    """The agent's Python side (a dict), or None if the agent is off."""
    global _namespace
    if _namespace is None:
        ns = _attach_function()()
        _namespace = ns if isinstance(ns, dict) else False
    return _namespace or None


def preloaded():
    """Whether the agent came with the process (LD_PRELOAD, the launcher)."""
    namespace()
    return bool(_preloaded)

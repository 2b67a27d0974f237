/*
 * pyapi: the CPython C API, found at run time.
 *
 * The agent is loaded into every process (bash, make, the pyenv shim...),
 * so it must not refer to a single Py* symbol at link time: each function
 * it calls is looked up here with dlsym(RTLD_DEFAULT) once the process is
 * known to be Python. Python.h is included only for types, constants and
 * signatures; macros that reference symbols (Py_None, Py_DECREF,
 * Py_RETURN_NONE) must not be used. One build serves CPython 3.8 to 3.13,
 * so version-dependent paths are chosen from py.minor at run time.
 */
#ifndef MEMPROF_PYAPI_H
#define MEMPROF_PYAPI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stdbool.h>

struct pyapi {
    int major, minor;           /* of the running interpreter */

    int (*IsInitialized)(void);
    const char *(*GetVersion)(void);
    int (*AddAuditHook)(Py_AuditHookFunction, void *);
    void (*SetTrace)(Py_tracefunc, PyObject *);
    void (*SetProfile)(Py_tracefunc, PyObject *);
    PyObject *(*Eval_GetGlobals)(void);
    PyObject *(*Tuple_Pack)(Py_ssize_t, ...);
    PyFrameObject *(*Eval_GetFrame)(void);
    int (*Frame_GetLineNumber)(PyFrameObject *);
    PyCodeObject *(*Frame_GetCode)(PyFrameObject *);    /* 3.9+, else NULL */
    int (*Code_Addr2Line)(PyCodeObject *, int);
    void (*IncRef)(PyObject *);
    void (*DecRef)(PyObject *);
    PyObject *(*CFunction_NewEx)(PyMethodDef *, PyObject *, PyObject *);
    PyObject *(*Dict_New)(void);
    int (*Dict_SetItemString)(PyObject *, const char *, PyObject *);
    PyObject *(*Dict_GetItem)(PyObject *, PyObject *);
    PyObject *(*Dict_GetItemString)(PyObject *, const char *);
    PyObject *(*CompileStringExFlags)(const char *, const char *, int, PyCompilerFlags *, int);
    PyObject *(*Eval_EvalCode)(PyObject *, PyObject *, PyObject *);
    PyObject *(*Eval_GetBuiltins)(void);
    PyObject *(*Import_ImportModule)(const char *);
    PyObject *(*Sys_GetObject)(const char *);
    PyObject *(*Object_GetAttrString)(PyObject *, const char *);
    PyObject *(*Object_CallObject)(PyObject *, PyObject *);
    PyObject *(*Object_Call)(PyObject *, PyObject *, PyObject *);
    int (*Object_IsTrue)(PyObject *);
    const char *(*Unicode_AsUTF8AndSize)(PyObject *, Py_ssize_t *);
    PyObject *(*Unicode_FromString)(const char *);
    PyObject *(*Unicode_EncodeFSDefault)(PyObject *);
    int (*Bytes_AsStringAndSize)(PyObject *, char **, Py_ssize_t *);
    long (*Long_AsLong)(PyObject *);
    PyObject *(*Long_FromUnsignedLong)(unsigned long);
    Py_ssize_t (*Tuple_Size)(PyObject *);
    PyObject *(*Tuple_GetItem)(PyObject *, Py_ssize_t);
    Py_ssize_t (*List_Size)(PyObject *);
    PyObject *(*List_GetItem)(PyObject *, Py_ssize_t);
    void (*Err_Fetch)(PyObject **, PyObject **, PyObject **);
    void (*Err_Restore)(PyObject *, PyObject *, PyObject *);
    void (*Err_Clear)(void);
    PyObject *(*Err_Occurred)(void);
    unsigned long (*Thread_get_thread_ident)(void);
    void (*Mem_GetAllocator)(PyMemAllocatorDomain, PyMemAllocatorEx *);
    void (*Mem_SetAllocator)(PyMemAllocatorDomain, PyMemAllocatorEx *);
    int (*Object_SetAttrString)(PyObject *, const char *, PyObject *);
    int (*Dict_Update)(PyObject *, PyObject *);
    int (*Err_ExceptionMatches)(PyObject *);
    PyObject *(*Module_New)(const char *);
    PyObject *(*Unicode_DecodeFSDefaultAndSize)(const char *, Py_ssize_t);
    PyObject **ExcAttributeError;   /* &PyExc_AttributeError */
    int (*AddPendingCall)(int (*)(void *), void *);
    PyThreadState *(*ThreadState_Get)(void);
    PyThreadState *(*ThreadState_Next)(PyThreadState *);
    PyThreadState *(*InterpreterState_ThreadHead)(PyInterpreterState *);
    PyInterpreterState *(*InterpreterState_Get)(void);          /* 3.9+, else NULL */
    PyFrameObject *(*ThreadState_GetFrame)(PyThreadState *);    /* 3.9+, else NULL */
    PyFrameObject *(*Frame_GetBack)(PyFrameObject *);           /* 3.9+, else NULL */
    int (*Frame_GetLasti)(PyFrameObject *);                     /* 3.11+, else NULL */
    PyThreadState *(*Eval_SaveThread)(void);
    void (*Eval_RestoreThread)(PyThreadState *);
    PyObject **Exc_RuntimeError;    /* &PyExc_RuntimeError */
    /* For the in-process API (inproc.c). */
    PyObject *(*Long_FromLongLong)(long long);
    long long (*Long_AsLongLong)(PyObject *);
    PyObject *(*Float_FromDouble)(double);
    double (*Float_AsDouble)(PyObject *);
    PyObject *(*List_New)(Py_ssize_t);
    int (*List_Append)(PyObject *, PyObject *);
    PyObject *(*Unicode_FromStringAndSize)(const char *, Py_ssize_t);
    void (*Err_SetString)(PyObject *, const char *);
    PyObject **ExcValueError;       /* &PyExc_ValueError */
    PyObject **ExcOSError;          /* &PyExc_OSError */

    /* For serving importlib.import_module("memory_profiler") (pyside.c). */
    PyObject *(*Marshal_WriteObjectToString)(PyObject *, int);
    const void **FrozenModules;     /* &PyImport_FrozenModules */

    PyObject *None;             /* &_Py_NoneStruct */
    PyTypeObject *CodeType;     /* &PyCode_Type */
};

extern struct pyapi py;

/*
 * Whether this process has an interpreter the agent can work with. Cheap
 * and allocation-free when it does not (one dlsym). Fills `py` when it does.
 * *too_old is set for an interpreter older than 3.8 (no audit hooks).
 */
bool pyapi_find(bool *too_old);

/* A symbol that has one of two names depending on the version, or NULL. */
void *pyapi_optional(const char *name, const char *other_name);

/* The code object a frame runs (a borrowed reference). */
PyObject *pyapi_frame_code(PyFrameObject *frame);

/* Py_None, with a new reference, for returning from C functions. */
static inline PyObject *pyapi_none(void)
{
    py.IncRef(py.None);
    return py.None;
}

static inline bool pyapi_is_code(PyObject *o)
{
    return o && Py_TYPE(o) == py.CodeType;
}

#endif

/* pyapi: see pyapi.h. */
#include "pyapi.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

struct pyapi py;

struct entry {
    const char *name;
    size_t offset;      /* into struct pyapi */
    bool optional;
};

#define FN(field, sym) { sym, offsetof(struct pyapi, field), false }
#define OPT(field, sym) { sym, offsetof(struct pyapi, field), true }

static const struct entry table[] = {
    FN(IsInitialized, "Py_IsInitialized"),
    FN(SetTrace, "PyEval_SetTrace"),
    FN(SetProfile, "PyEval_SetProfile"),
    FN(Eval_GetGlobals, "PyEval_GetGlobals"),
    FN(Tuple_Pack, "PyTuple_Pack"),
    FN(Eval_GetFrame, "PyEval_GetFrame"),
    FN(Frame_GetLineNumber, "PyFrame_GetLineNumber"),
    OPT(Frame_GetCode, "PyFrame_GetCode"),
    FN(Code_Addr2Line, "PyCode_Addr2Line"),
    FN(IncRef, "Py_IncRef"),
    FN(DecRef, "Py_DecRef"),
    FN(CFunction_NewEx, "PyCFunction_NewEx"),
    FN(Dict_New, "PyDict_New"),
    FN(Dict_SetItemString, "PyDict_SetItemString"),
    FN(Dict_GetItem, "PyDict_GetItem"),
    FN(Dict_GetItemString, "PyDict_GetItemString"),
    FN(CompileStringExFlags, "Py_CompileStringExFlags"),
    FN(Eval_EvalCode, "PyEval_EvalCode"),
    FN(Eval_GetBuiltins, "PyEval_GetBuiltins"),
    FN(Import_ImportModule, "PyImport_ImportModule"),
    FN(Sys_GetObject, "PySys_GetObject"),
    FN(Object_GetAttrString, "PyObject_GetAttrString"),
    FN(Object_CallObject, "PyObject_CallObject"),
    FN(Object_Call, "PyObject_Call"),
    FN(Object_IsTrue, "PyObject_IsTrue"),
    FN(Unicode_AsUTF8AndSize, "PyUnicode_AsUTF8AndSize"),
    FN(Unicode_FromString, "PyUnicode_FromString"),
    FN(Unicode_EncodeFSDefault, "PyUnicode_EncodeFSDefault"),
    FN(Bytes_AsStringAndSize, "PyBytes_AsStringAndSize"),
    FN(Long_AsLong, "PyLong_AsLong"),
    FN(Long_FromUnsignedLong, "PyLong_FromUnsignedLong"),
    FN(Tuple_Size, "PyTuple_Size"),
    FN(Tuple_GetItem, "PyTuple_GetItem"),
    FN(List_Size, "PyList_Size"),
    FN(List_GetItem, "PyList_GetItem"),
    FN(Err_Fetch, "PyErr_Fetch"),
    FN(Err_Restore, "PyErr_Restore"),
    FN(Err_Clear, "PyErr_Clear"),
    FN(Err_Occurred, "PyErr_Occurred"),
    FN(Thread_get_thread_ident, "PyThread_get_thread_ident"),
    FN(Mem_GetAllocator, "PyMem_GetAllocator"),
    FN(Mem_SetAllocator, "PyMem_SetAllocator"),
    FN(Object_SetAttrString, "PyObject_SetAttrString"),
    FN(Dict_Update, "PyDict_Update"),
    FN(Err_ExceptionMatches, "PyErr_ExceptionMatches"),
    FN(Module_New, "PyModule_New"),
    FN(Unicode_DecodeFSDefaultAndSize, "PyUnicode_DecodeFSDefaultAndSize"),
    FN(ExcAttributeError, "PyExc_AttributeError"),
    FN(AddPendingCall, "Py_AddPendingCall"),
    FN(ThreadState_Get, "PyThreadState_Get"),
    FN(ThreadState_Next, "PyThreadState_Next"),
    FN(InterpreterState_ThreadHead, "PyInterpreterState_ThreadHead"),
    OPT(InterpreterState_Get, "PyInterpreterState_Get"),
    OPT(ThreadState_GetFrame, "PyThreadState_GetFrame"),
    OPT(Frame_GetBack, "PyFrame_GetBack"),
    OPT(Frame_GetLasti, "PyFrame_GetLasti"),
    FN(Eval_SaveThread, "PyEval_SaveThread"),
    FN(Eval_RestoreThread, "PyEval_RestoreThread"),
    FN(Exc_RuntimeError, "PyExc_RuntimeError"),
    FN(Long_FromLongLong, "PyLong_FromLongLong"),
    FN(Long_AsLongLong, "PyLong_AsLongLong"),
    FN(Float_FromDouble, "PyFloat_FromDouble"),
    FN(Float_AsDouble, "PyFloat_AsDouble"),
    FN(List_New, "PyList_New"),
    FN(List_Append, "PyList_Append"),
    FN(Unicode_FromStringAndSize, "PyUnicode_FromStringAndSize"),
    FN(Err_SetString, "PyErr_SetString"),
    FN(ExcValueError, "PyExc_ValueError"),
    FN(ExcOSError, "PyExc_OSError"),
    OPT(Marshal_WriteObjectToString, "PyMarshal_WriteObjectToString"),
    OPT(FrozenModules, "PyImport_FrozenModules"),
    FN(None, "_Py_NoneStruct"),
    FN(CodeType, "PyCode_Type"),
};

bool pyapi_find(bool *too_old)
{
    *too_old = false;
    /* Audit hooks arrived in 3.8: without them there is no way in. */
    py.AddAuditHook = (int (*)(Py_AuditHookFunction, void *))dlsym(RTLD_DEFAULT, "PySys_AddAuditHook");
    if (!py.AddAuditHook) {
        *too_old = dlsym(RTLD_DEFAULT, "Py_GetVersion") != NULL;
        return false;
    }
    py.GetVersion = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (!py.GetVersion)
        return false;
    const char *v = py.GetVersion();
    char *end;
    py.major = (int)strtol(v, &end, 10);
    py.minor = *end == '.' ? (int)strtol(end + 1, NULL, 10) : 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        void *sym = dlsym(RTLD_DEFAULT, table[i].name);
        if (!sym && !table[i].optional)
            return false;
        *(void **)((char *)&py + table[i].offset) = sym;
    }
    return py.major == 3 && py.minor >= 8;
}

void *pyapi_optional(const char *name, const char *other_name)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    return sym ? sym : dlsym(RTLD_DEFAULT, other_name);
}

PyObject *pyapi_frame_code(PyFrameObject *frame)
{
    if (py.Frame_GetCode) {
        /* A new reference, but the running frame keeps the code alive. */
        PyObject *code = (PyObject *)py.Frame_GetCode(frame);
        py.DecRef(code);
        return code;
    }
    /* 3.8: f_code follows PyObject_VAR_HEAD and f_back. */
    struct frame38 {
        PyObject_VAR_HEAD
        void *f_back;
        PyObject *f_code;
    };
    return ((struct frame38 *)frame)->f_code;
}

//! bindgen over `c/wrapper.h`: an allowlist of the C API, plus C wrappers for static inline
//! functions (`wrap_static_fns`) and the `cpython_sys_*` shims renamed to their macros' names.

use std::path::{Path, PathBuf};

use bindgen::callbacks::{IntKind, ItemInfo, ItemKind, ParseCallbacks};

use crate::find::Python;

/// Prefix of the C shim functions in `c/shim.h`, stripped in the Rust names.
const SHIM_PREFIX: &str = "cpython_sys_";

/// Functions, by family. Anchored regexes, matched against C names.
const FUNCTIONS: &[&str] = &[
    // Core: refcounts, Py_Initialize*/Finalize*, Py_NewInterpreter*, Py_EndInterpreter,
    // Py_AddPendingCall, Py_CompileString*, Py_Is*, Py_TYPE & co.
    "Py_.*",
    // Start-up configuration.
    "PyConfig_.*",
    "PyPreConfig_.*",
    "PyStatus_.*",
    "PyWideStringList_.*",
    // Thread states, interpreters and the GIL (PyGILState_* is blocklisted below).
    "PyThreadState_.*",
    "PyInterpreterState_.*",
    "PyEval_.*",
    // Modules and imports.
    "PyImport_.*",
    "PyModule_.*",
    "PyModuleDef_.*",
    "PyRun_.*",
    "PySys_.*",
    // Objects and protocols.
    "PyObject_.*",
    "PyType_.*",
    "PyCallable_Check",
    "PyIter_.*",
    "PyNumber_Index",
    "PyBuffer_.*",
    "PyMemoryView_.*",
    "PyCapsule_.*",
    "PyCFunction_.*",
    "PyCMethod_New",
    "PyMem_.*",
    // Exceptions.
    "PyErr_.*",
    "PyException_.*",
    "PyTraceBack_Print",
    // Concrete types the runtime converts.
    "PyBool_.*",
    "PyLong_.*",
    "PyFloat_.*",
    "PyComplex_.*",
    "PyUnicode_.*",
    "PyBytes_.*",
    "PyByteArray_.*",
    "PyTuple_.*",
    "PyList_.*",
    "PyDict_.*",
    "PySet_.*",
    "PyFrozenSet_.*",
    // Shims for macros (c/shim.h).
    "cpython_sys_.*",
];

/// Functions never bound.
const BLOCKED_FUNCTIONS: &[&str] = &[
    // Binds the main interpreter on foreign threads; the runtime attaches explicitly.
    "PyGILState_.*",
    // Signature differs in debug builds; `Py_DECREF` comes from the shim instead.
    "Py_DECREF",
    // `va_list` parameters are not callable from Rust.
    ".*FormatV",
    "Py_Va.*",
    ".*_Va[A-Z].*",
];

/// Global variables and `#define` constants.
const VARS: &[&str] = &[
    "PyExc_.*",
    "Py[A-Za-z]*_Type",
    // Singletons behind Py_None, Py_True, ... (the shim gives function forms too).
    "_Py_(None|True|False|NotImplemented)Struct",
    "_Py_EllipsisObject",
    // Py_mod_*, Py_tp_*/Py_bf_*/... slot ids, Py_TPFLAGS_*, Py_file_input, Py_T_*, ...
    "Py_.*",
    "PyBUF_.*",
    "PyInterpreterConfig_.*",
    "PY_(MAJOR|MINOR|MICRO)_VERSION",
    "PY_VERSION_HEX",
    "METH_.*",
    "PyTrace_.*",
];

/// Types the runtime fills in itself, beyond those the functions already pull in.
const TYPES: &[&str] = &[
    "PyConfig",
    "PyPreConfig",
    "PyStatus",
    "PyInterpreterConfig",
    "PyModuleDef",
    "PyModuleDef_Base",
    "PyModuleDef_Slot",
    "PyMethodDef",
    "PyMemberDef",
    "PyGetSetDef",
    "Py_buffer",
    "PyBufferProcs",
    "PyType_Spec",
    "PyType_Slot",
    "PyObject",
    "PyVarObject",
    "PyTupleObject",
    "PyBytesObject",
    "PyCompilerFlags",
];

/// Writes `$OUT_DIR/bindings.rs`; returns the C file of static-inline wrappers to compile.
pub fn generate(python: &Python, c_dir: &Path, out_dir: &Path) -> PathBuf {
    // Read by clang-sys when bindgen loads libclang.
    println!("cargo::rerun-if-env-changed=LIBCLANG_PATH");
    let wrappers = out_dir.join("static_wrappers");
    let mut builder = bindgen::Builder::default()
        .header(c_dir.join("wrapper.h").display().to_string())
        .clang_arg(format!("-I{}", python.include_dir.display()))
        .clang_arg(format!("-I{}", c_dir.display()))
        .rust_target(bindgen::RustTarget::stable(85, 0).expect("a Rust version bindgen knows"))
        .rust_edition(bindgen::RustEdition::Edition2024)
        .use_core()
        .generate_comments(false)
        .derive_default(true)
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        // `FILE` is only ever passed by pointer.
        .opaque_type("_IO_FILE")
        .parse_callbacks(Box::new(Callbacks))
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrappers);
    for pattern in FUNCTIONS {
        builder = builder.allowlist_function(pattern);
    }
    for pattern in BLOCKED_FUNCTIONS {
        builder = builder.blocklist_function(pattern);
    }
    builder = builder.blocklist_type("PyGILState_STATE");
    for pattern in VARS {
        builder = builder.allowlist_var(pattern);
    }
    for pattern in TYPES {
        builder = builder.allowlist_type(pattern);
    }

    builder
        .generate()
        .expect("bindgen failed on c/wrapper.h")
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs");
    wrappers.with_extension("c")
}

/// Naming and typing decisions bindgen cannot make from the headers alone.
#[derive(Debug)]
struct Callbacks;

impl ParseCallbacks for Callbacks {
    /// `cpython_sys_Py_None` becomes `Py_None`; bindgen keeps the C name as `link_name`.
    fn item_name(&self, item: ItemInfo<'_>) -> Option<String> {
        match item.kind {
            ItemKind::Function => item.name.strip_prefix(SHIM_PREFIX).map(str::to_owned),
            _ => None,
        }
    }

    /// Most constants feed `int` fields (slot ids, `ml_flags`, `gil`) and stay `c_int`;
    /// type flags are `unsigned long` like `tp_flags`.
    fn int_macro(&self, name: &str, _value: i64) -> Option<IntKind> {
        name.starts_with("Py_TPFLAGS_").then_some(IntKind::ULong)
    }

    /// bindgen's own variables (`BINDGEN_EXTRA_CLANG_ARGS`, ...) also trigger a rerun.
    fn read_env_var(&self, key: &str) {
        println!("cargo::rerun-if-env-changed={key}");
    }
}

//! Generates the layout check: the same list of measurements written twice, once as C
//! (`sizeof`/`_Alignof`/`offsetof`, evaluated by the C compiler into a static table) and once
//! as Rust (`size_of`/`align_of`/`offset_of!` of the bindgen types). The crate's unit test
//! `layout::matches_c` compares the two entry by entry and names every mismatch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::find::Python;

/// One measurement: its label, the C expression and the Rust expression.
struct Entry {
    label: String,
    c: String,
    rust: String,
}

/// Structs the runtime fills in or reads directly, with the fields it touches.
fn structs(python: &Python) -> Vec<(&'static str, Vec<&'static str>)> {
    let object = if python.gil_disabled {
        vec!["ob_tid", "ob_ref_local", "ob_ref_shared", "ob_type"]
    } else {
        // `ob_refcnt` sits in an anonymous union; its offset is 0 when `ob_type` is right.
        vec!["ob_type"]
    };
    let mut config = vec![
        "_config_init",
        "isolated",
        "use_environment",
        "dev_mode",
        "install_signal_handlers",
        "use_hash_seed",
        "hash_seed",
        "faulthandler",
        "tracemalloc",
        "parse_argv",
        "orig_argv",
        "argv",
        "xoptions",
        "warnoptions",
        "site_import",
        "bytes_warning",
        "inspect",
        "interactive",
        "optimization_level",
        "write_bytecode",
        "verbose",
        "quiet",
        "user_site_directory",
        "configure_c_stdio",
        "buffered_stdio",
        "check_hash_pycs_mode",
        "use_frozen_modules",
        "safe_path",
        "int_max_str_digits",
        "cpu_count",
        "pathconfig_warnings",
        "program_name",
        "pythonpath_env",
        "home",
        "platlibdir",
        "module_search_paths_set",
        "module_search_paths",
        "stdlib_dir",
        "executable",
        "base_executable",
        "prefix",
        "base_prefix",
        "exec_prefix",
        "base_exec_prefix",
        "skip_source_first_line",
        "run_command",
        "run_module",
        "run_filename",
        "sys_path_0",
        "_install_importlib",
        "_init_main",
        "_is_python_build",
    ];
    if python.gil_disabled {
        config.push("enable_gil");
    }
    vec![
        ("PyObject", object),
        ("PyVarObject", vec!["ob_base", "ob_size"]),
        ("PyStatus", vec!["_type", "func", "err_msg", "exitcode"]),
        ("PyWideStringList", vec!["length", "items"]),
        (
            "PyPreConfig",
            vec![
                "_config_init",
                "parse_argv",
                "isolated",
                "use_environment",
                "configure_locale",
                "coerce_c_locale",
                "coerce_c_locale_warn",
                "utf8_mode",
                "dev_mode",
                "allocator",
            ],
        ),
        ("PyConfig", config),
        (
            "PyInterpreterConfig",
            vec![
                "use_main_obmalloc",
                "allow_fork",
                "allow_exec",
                "allow_threads",
                "allow_daemon_threads",
                "check_multi_interp_extensions",
                "gil",
            ],
        ),
        (
            "PyModuleDef_Base",
            vec!["ob_base", "m_init", "m_index", "m_copy"],
        ),
        (
            "PyModuleDef",
            vec![
                "m_base",
                "m_name",
                "m_doc",
                "m_size",
                "m_methods",
                "m_slots",
                "m_traverse",
                "m_clear",
                "m_free",
            ],
        ),
        ("PyModuleDef_Slot", vec!["slot", "value"]),
        (
            "PyMethodDef",
            vec!["ml_name", "ml_meth", "ml_flags", "ml_doc"],
        ),
        (
            "PyMemberDef",
            vec!["name", "type", "offset", "flags", "doc"],
        ),
        ("PyGetSetDef", vec!["name", "get", "set", "doc", "closure"]),
        (
            "Py_buffer",
            vec![
                "buf",
                "obj",
                "len",
                "itemsize",
                "readonly",
                "ndim",
                "format",
                "shape",
                "strides",
                "suboffsets",
                "internal",
            ],
        ),
        ("PyBufferProcs", vec!["bf_getbuffer", "bf_releasebuffer"]),
        (
            "PyType_Spec",
            vec!["name", "basicsize", "itemsize", "flags", "slots"],
        ),
        ("PyType_Slot", vec!["slot", "pfunc"]),
        (
            "PyTypeObject",
            vec![
                "ob_base",
                "tp_name",
                "tp_basicsize",
                "tp_itemsize",
                "tp_dealloc",
                "tp_as_buffer",
                "tp_flags",
                "tp_free",
            ],
        ),
        ("PyTupleObject", vec!["ob_base", "ob_item"]),
        ("PyBytesObject", vec!["ob_base", "ob_sval"]),
        ("PyCompilerFlags", vec!["cf_flags", "cf_feature_version"]),
    ]
}

/// Constants that are hand-written in Rust (pointer-valued macros bindgen cannot evaluate)
/// or that feed struct fields directly.
const CONSTANTS: &[&str] = &[
    "Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED",
    "Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED",
    "Py_MOD_PER_INTERPRETER_GIL_SUPPORTED",
    "Py_MOD_GIL_USED",
    "Py_MOD_GIL_NOT_USED",
    "Py_mod_create",
    "Py_mod_exec",
    "Py_mod_multiple_interpreters",
    "Py_mod_gil",
    "PyInterpreterConfig_OWN_GIL",
    "Py_bf_getbuffer",
    "Py_bf_releasebuffer",
    "Py_tp_dealloc",
    "Py_TPFLAGS_DEFAULT",
    "Py_TPFLAGS_BASETYPE",
    "METH_NOARGS",
    "METH_O",
    "METH_VARARGS",
    "METH_KEYWORDS",
    "METH_FASTCALL",
    "PyBUF_SIMPLE",
    "PyBUF_FULL_RO",
    "Py_file_input",
    "Py_eval_input",
    "PY_VERSION_HEX",
];

/// Rust spelling of a C field name (bindgen appends `_` to keywords).
fn rust_field(c_field: &str) -> String {
    match c_field {
        "type" => "type_".to_owned(),
        other => other.to_owned(),
    }
}

fn entries(python: &Python) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (ty, fields) in structs(python) {
        entries.push(Entry {
            label: format!("sizeof({ty})"),
            c: format!("sizeof({ty})"),
            rust: format!("::core::mem::size_of::<crate::{ty}>()"),
        });
        entries.push(Entry {
            label: format!("alignof({ty})"),
            c: format!("_Alignof({ty})"),
            rust: format!("::core::mem::align_of::<crate::{ty}>()"),
        });
        for field in fields {
            let rust = rust_field(field);
            entries.push(Entry {
                label: format!("offsetof({ty}, {field})"),
                c: format!("offsetof({ty}, {field})"),
                rust: format!("::core::mem::offset_of!(crate::{ty}, {rust})"),
            });
            entries.push(Entry {
                label: format!("sizeof({ty}.{field})"),
                c: format!("sizeof((({ty} *)0)->{field})"),
                rust: format!("super::field_size::<crate::{ty}, _>(|s| &s.{rust})"),
            });
        }
    }
    entries
}

/// Writes `$OUT_DIR/layout.c` and `$OUT_DIR/layout.rs`; returns the C file to compile.
pub fn generate(python: &Python, out_dir: &Path) -> PathBuf {
    let entries = entries(python);
    let (n, m) = (entries.len(), CONSTANTS.len());

    let mut c = String::from(
        "/* Generated by cpython-sys/build/layout.rs: the C compiler's view of the layouts. */\n\
         #include \"wrapper.h\"\n#include <stddef.h>\n#include <stdint.h>\n\n",
    );
    writeln!(c, "const size_t cpython_sys_layout[{n}] = {{").unwrap();
    for entry in &entries {
        writeln!(c, "    {},", entry.c).unwrap();
    }
    writeln!(c, "}};\n\nconst uintptr_t cpython_sys_constants[{m}] = {{").unwrap();
    for name in CONSTANTS {
        writeln!(c, "    (uintptr_t)({name}),").unwrap();
    }
    c.push_str(
        "};\n\nconst PyModuleDef_Base cpython_sys_PyModuleDef_HEAD_INIT = PyModuleDef_HEAD_INIT;\n",
    );

    let mut rust = String::from(
        "// Generated by cpython-sys/build/layout.rs: the Rust view of the layouts.\n\n",
    );
    writeln!(
        rust,
        "unsafe extern \"C\" {{\n    \
             pub(super) static cpython_sys_layout: [usize; {n}];\n    \
             pub(super) static cpython_sys_constants: [usize; {m}];\n    \
             pub(super) static cpython_sys_PyModuleDef_HEAD_INIT: crate::PyModuleDef_Base;\n\
         }}\n"
    )
    .unwrap();
    writeln!(rust, "pub(super) const LAYOUT_LABELS: [&str; {n}] = [").unwrap();
    for entry in &entries {
        writeln!(rust, "    {:?},", entry.label).unwrap();
    }
    writeln!(
        rust,
        "];\n\npub(super) fn rust_layout() -> [usize; {n}] {{\n    ["
    )
    .unwrap();
    for entry in &entries {
        writeln!(rust, "        {},", entry.rust).unwrap();
    }
    writeln!(
        rust,
        "    ]\n}}\n\npub(super) const CONSTANT_LABELS: [&str; {m}] = ["
    )
    .unwrap();
    for name in CONSTANTS {
        writeln!(rust, "    {name:?},").unwrap();
    }
    writeln!(
        rust,
        "];\n\npub(super) fn rust_constants() -> [usize; {m}] {{\n    ["
    )
    .unwrap();
    for name in CONSTANTS {
        writeln!(rust, "        crate::{name} as usize,").unwrap();
    }
    rust.push_str("    ]\n}\n");

    let c_file = out_dir.join("layout.c");
    std::fs::write(&c_file, c).expect("write layout.c");
    std::fs::write(out_dir.join("layout.rs"), rust).expect("write layout.rs");
    c_file
}

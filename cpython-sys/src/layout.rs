//! Checks the bindgen types against the C compiler (see `build/layout.rs`).
//!
//! bindgen's own layout assertions come from libclang; these come from the C compiler `cc`
//! uses to build the shim, so a disagreement between the two (or a header that changed under
//! us) fails here, naming the struct and field.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/layout.rs"));
}

/// Size of the field a projection points to, e.g. `field_size::<PyConfig, _>(|c| &c.home)`.
fn field_size<T, F>(_project: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

#[test]
fn matches_c() {
    // SAFETY: `cpython_sys_layout` is an immutable, fully initialised `size_t` array of the
    // declared length, defined in the generated `layout.c` linked into this crate.
    let c = unsafe { generated::cpython_sys_layout };
    let rust = generated::rust_layout();
    let mismatches: Vec<String> = generated::LAYOUT_LABELS
        .iter()
        .zip(c.iter().zip(rust))
        .filter(|(_, (c, rust))| *c != rust)
        .map(|(label, (c, rust))| format!("{label}: C says {c}, Rust says {rust}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "layout mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn constants_match_c() {
    // SAFETY: as above, for the `uintptr_t` array `cpython_sys_constants`.
    let c = unsafe { generated::cpython_sys_constants };
    let rust = generated::rust_constants();
    let mismatches: Vec<String> = generated::CONSTANT_LABELS
        .iter()
        .zip(c.iter().zip(rust))
        .filter(|(_, (c, rust))| *c != rust)
        .map(|(label, (c, rust))| format!("{label}: C says {c:#x}, Rust says {rust:#x}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "constant mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn module_def_head_init_matches_c() {
    // SAFETY: an immutable `PyModuleDef_Base` initialised with `PyModuleDef_HEAD_INIT` in the
    // generated `layout.c`.
    let c = unsafe { &generated::cpython_sys_PyModuleDef_HEAD_INIT };
    let rust = crate::PyModuleDef_HEAD_INIT;
    #[cfg(not(Py_GIL_DISABLED))]
    {
        // SAFETY: both initialisers write `ob_refcnt`, the union's widest member.
        let (c_refcnt, rust_refcnt) = unsafe {
            (
                c.ob_base.__bindgen_anon_1.ob_refcnt,
                rust.ob_base.__bindgen_anon_1.ob_refcnt,
            )
        };
        assert_eq!(c_refcnt, rust_refcnt, "ob_refcnt");
    }
    #[cfg(Py_GIL_DISABLED)]
    {
        assert_eq!(c.ob_base.ob_tid, rust.ob_base.ob_tid, "ob_tid");
        assert_eq!(
            c.ob_base.ob_ref_local, rust.ob_base.ob_ref_local,
            "ob_ref_local"
        );
        assert_eq!(
            c.ob_base.ob_ref_shared, rust.ob_base.ob_ref_shared,
            "ob_ref_shared"
        );
    }
    assert_eq!(c.ob_base.ob_type, rust.ob_base.ob_type, "ob_type");
    assert_eq!(c.m_init.is_none(), rust.m_init.is_none(), "m_init");
    assert_eq!(c.m_index, rust.m_index, "m_index");
    assert_eq!(c.m_copy, rust.m_copy, "m_copy");
}

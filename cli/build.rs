//! Links the `subinterp` command to the CPython the runtime was built against, as any program
//! embedding the runtime does (see the `subinterp-build` crate).

fn main() {
    subinterp_build::link();
}

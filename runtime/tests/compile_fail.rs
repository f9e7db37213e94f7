//! Python objects cannot leave their thread: the compiler refuses to send a `Python` token or
//! an `Object` to another thread (they are `!Send`), or to let an `Object` escape the closure
//! that was given the token.

#[test]
fn python_handles_cannot_cross_threads() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}

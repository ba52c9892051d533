//! The `#[service]` macro's compile-time errors, pinned with trybuild.

#[test]
fn compile_fail_messages() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}

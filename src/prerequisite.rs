//! Test prerequisites (a font, PostgreSQL, a tool): a test whose prerequisite is missing may
//! skip on a laptop, but under CI (`CI=true`, set by the CI runner) the skip is a failure, so a
//! machine that lost a package cannot turn tests into silent passes.

/// Report that `what` is missing: panics under `CI=true`, otherwise prints the skip and returns
/// (the caller then returns from the test).
pub fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1") {
        panic!("test prerequisite missing under CI: {what}");
    }
    eprintln!("skipped: {what}");
}

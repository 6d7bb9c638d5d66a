//! cargo-afl target: `targets::query_string` (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| ferrocr_fuzz::targets::query_string(data));
}

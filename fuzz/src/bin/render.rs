//! cargo-afl target: `targets::render_document` (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| ferrocr_fuzz::targets::render_document(data));
}

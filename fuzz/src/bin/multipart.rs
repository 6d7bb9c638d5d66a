//! cargo-afl target: `targets::multipart_body` (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| ferrocr_fuzz::targets::multipart_body(data));
}

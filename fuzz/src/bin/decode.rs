//! cargo-afl target: `targets::decode_file` (see fuzz/README.md).
fn main() {
    afl::fuzz!(|data: &[u8]| ferrocr_fuzz::targets::decode_file(data));
}

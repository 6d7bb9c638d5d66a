// Colour -> gray. CPU twin: preprocess::gray::to_gray (RGBA8 path): Rec. 709 luma in 1/65536
// units, then alpha composited over white, all in integers, so the result is bit-identical.
//
// One invocation writes one u32 word = 4 gray pixels (packed little-endian) so that no two
// invocations write the same word.

struct Params {
    pixels: u32,      // pixels in this page
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rgba: array<u32>;        // one RGBA8 pixel per word
@group(0) @binding(2) var<storage, read_write> gray: array<u32>;  // 4 gray pixels per word

const WR: u32 = 13933u;
const WG: u32 = 46871u;
const WB: u32 = 4732u;

fn to_gray(c: u32) -> u32 {
    let r = c & 255u;
    let g = (c >> 8u) & 255u;
    let b = (c >> 16u) & 255u;
    let a = (c >> 24u) & 255u;
    let l = (WR * r + WG * g + WB * b + 32768u) >> 16u;
    return (l * a + 255u * (255u - a) + 127u) / 255u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = gid.x + gid.y * nwg.x * 64u;
    let first = word * 4u;
    if (first >= p.pixels) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let i = first + k;
        if (i < p.pixels) {
            packed = packed | (to_gray(rgba[i]) << (8u * k));
        }
    }
    gray[word] = packed;
}

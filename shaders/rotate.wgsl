// Skew rotation (bilinear) about the page centre. CPU twin: preprocess::deskew::rotate_bilinear.
//
// The CPU steps along each row in 16.16 fixed point from an exact row start; this kernel uses
// the same per-row start values (computed on the host in f64, uploaded as `row_start`) and the
// same integer step, so source coordinate of column x is `start + x * step` exactly as on the
// CPU, and the interpolation uses the same 8-bit weights and integer rounding: the output is
// bit-identical. (i32 holds 16.16 coordinates of pages up to 32,767 px.)

struct Params {
    width: u32,
    height: u32,
    step_x: i32,      // round(cos * 65536)
    step_y: i32,      // round(-sin * 65536)
    fill: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;          // 4 pixels per word
@group(0) @binding(2) var<storage, read> row_start: array<vec2<i32>>; // (sx, sy) of column 0
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

fn px(x: i32, y: i32) -> u32 {
    if (x >= 0 && y >= 0 && x < i32(p.width) && y < i32(p.height)) {
        let i = u32(y) * p.width + u32(x);
        return (src[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
    }
    return p.fill;
}

fn sample(x: u32, y: u32) -> u32 {
    let start = row_start[y];
    let sx = start.x + i32(x) * p.step_x;
    let sy = start.y + i32(x) * p.step_y;
    let x0 = sx >> 16u;
    let y0 = sy >> 16u;
    if (x0 < -1 || y0 < -1 || x0 >= i32(p.width) || y0 >= i32(p.height)) {
        return p.fill;
    }
    let fx = u32((sx >> 8u) & 255);
    let fy = u32((sy >> 8u) & 255);
    let top = px(x0, y0) * (256u - fx) + px(x0 + 1, y0) * fx;
    let bottom = px(x0, y0 + 1) * (256u - fx) + px(x0 + 1, y0 + 1) * fx;
    return (top * (256u - fy) + bottom * fy + 32768u) >> 16u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = gid.x + gid.y * nwg.x * 64u;
    let first = word * 4u;
    let total = p.width * p.height;
    if (first >= total) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let i = first + k;
        if (i < total) {
            packed = packed | (sample(i % p.width, i / p.width) << (8u * k));
        }
    }
    dst[word] = packed;
}

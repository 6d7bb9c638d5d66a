// Line-crop resampling to the model's input height. CPU twin: the resampling loop of
// recognize::normalize::normalize_line (see `LineGeometry`): the host tightens the box to the
// ink and picks the source window, scale and intensity levels with the CPU code; this kernel
// averages nx x ny bilinear samples per output pixel over its footprint (area-averaging when
// shrinking, interpolation when enlarging) and maps paper -> 0, ink -> 1. Padding columns are 0.
// Same f32 expressions as the CPU; differences are rounding only (division and possible
// fused multiply-adds), bounded in the parity test.

struct Params {
    width: u32,        // page width
    height: u32,       // page height
    out_width: u32,    // content columns
    padded: u32,       // row stride of the output (multiple of 4)
    sx0: f32,
    sy0: f32,
    step_x: f32,       // page pixels per output column
    step_y: f32,
    nx: u32,
    ny: u32,
    paper: f32,
    range: f32,
    line_height: u32,
    shear: f32,        // rows per column: sample (x, y) reads page row y + shear * (x - shear_cx)
    shear_cx: f32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gray: array<u32>;       // the page, 4 pixels per word
@group(0) @binding(2) var<storage, read_write> line: array<f32>; // line_height * padded

fn px(x: i32, y: i32) -> f32 {
    if (x < 0 || y < 0 || x >= i32(p.width) || y >= i32(p.height)) {
        return p.paper;
    }
    let i = u32(y) * p.width + u32(x);
    return f32((gray[i >> 2u] >> ((i & 3u) * 8u)) & 255u);
}

fn sample_bilinear(x: f32, y: f32) -> f32 {
    let x0 = floor(x);
    let y0 = floor(y);
    let fx = x - x0;
    let fy = y - y0;
    let xi = i32(x0);
    let yi = i32(y0);
    let top = px(xi, yi) * (1.0 - fx) + px(xi + 1, yi) * fx;
    let bot = px(xi, yi + 1) * (1.0 - fx) + px(xi + 1, yi + 1) * fx;
    return top * (1.0 - fy) + bot * fy;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= p.line_height * p.padded) {
        return;
    }
    let ox = i % p.padded;
    let oy = i / p.padded;
    if (ox >= p.out_width) {
        line[i] = 0.0;
        return;
    }
    var acc = 0.0;
    for (var j = 0u; j < p.ny; j = j + 1u) {
        let y = p.sy0 + (f32(oy) + (f32(j) + 0.5) / f32(p.ny)) * p.step_y - 0.5;
        for (var k = 0u; k < p.nx; k = k + 1u) {
            let x = p.sx0 + (f32(ox) + (f32(k) + 0.5) / f32(p.nx)) * p.step_x - 0.5;
            acc = acc + sample_bilinear(x, y + p.shear * (x - p.shear_cx));
        }
    }
    let g = acc * (1.0 / f32(p.nx * p.ny));
    line[i] = clamp((p.paper - g) / p.range, 0.0, 1.0);
}

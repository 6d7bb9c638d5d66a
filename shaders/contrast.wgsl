// Contrast normalisation, the per-pixel parts of preprocess::contrast::normalize_contrast
// (its CPU twin). The host runs the cheap steps on the small background image (closing, blur,
// percentile, gain) and the stretch table from the histogram, reusing the CPU code, so:
//   block_max  (GPU)  page -> block maxima (s x s blocks)            == CPU exactly
//   host              closing, blur, clamp, gain = 255 / background, per-column/row
//                     interpolation tables (same code as the CPU)
//   apply_gain (GPU)  flattened = min(v * bilinear(gain) + 0.5, 255), 256-bin histogram
//   host              stretch lookup table from the histogram (same code as the CPU)
//   apply_lut  (GPU)  out = lut[flattened]
// apply_gain evaluates the same f32 expressions in the same order as the CPU; a driver may
// fuse a multiply-add, so a pixel can land one level off where v * g + 0.5 is within an ulp of
// an integer (measured in the parity test).

struct Params {
    width: u32,
    height: u32,
    block: u32,       // s: block side of the downscaled background
    small_width: u32, // ceil(width / s)
    small_height: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Interpolation coordinate of one full-resolution column or row on the small grid.
struct Coord {
    i0: u32,
    i1: u32,
    f: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gray: array<u32>;         // 4 pixels per word
@group(0) @binding(2) var<storage, read_write> small: array<u32>;  // one block max per entry
@group(0) @binding(3) var<storage, read> gain: array<f32>;         // small_width * small_height
@group(0) @binding(4) var<storage, read> xs: array<Coord>;         // width entries
@group(0) @binding(5) var<storage, read> ys: array<Coord>;         // height entries
@group(0) @binding(6) var<storage, read_write> flat: array<u32>;   // 4 pixels per word
@group(0) @binding(7) var<storage, read_write> hist: array<atomic<u32>, 256>;
@group(0) @binding(8) var<storage, read> lut: array<u32, 256>;

var<workgroup> local_hist: array<atomic<u32>, 256>;

fn pixel(i: u32) -> u32 {
    return (gray[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
}

fn linear(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn block_max(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear(gid, nwg);
    if (i >= p.small_width * p.small_height) {
        return;
    }
    let bx = i % p.small_width;
    let by = i / p.small_width;
    let x_end = min((bx + 1u) * p.block, p.width);
    let y_end = min((by + 1u) * p.block, p.height);
    var m = 0u;
    for (var y = by * p.block; y < y_end; y = y + 1u) {
        for (var x = bx * p.block; x < x_end; x = x + 1u) {
            m = max(m, pixel(y * p.width + x));
        }
    }
    small[i] = m;
}

fn gain_at(x: u32, y: u32) -> f32 {
    let cx = xs[x];
    let cy = ys[y];
    let r0 = cy.i0 * p.small_width;
    let r1 = cy.i1 * p.small_width;
    let a = gain[r0 + cx.i0] + (gain[r0 + cx.i1] - gain[r0 + cx.i0]) * cx.f;
    let b = gain[r1 + cx.i0] + (gain[r1 + cx.i1] - gain[r1 + cx.i0]) * cx.f;
    return a + (b - a) * cy.f;
}

@compute @workgroup_size(64)
fn apply_gain(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    for (var b = lid; b < 256u; b = b + 64u) {
        atomicStore(&local_hist[b], 0u);
    }
    workgroupBarrier();
    let word = linear(gid, nwg);
    let first = word * 4u;
    let total = p.width * p.height;
    if (first < total) {
        var packed = 0u;
        for (var k = 0u; k < 4u; k = k + 1u) {
            let i = first + k;
            if (i < total) {
                let v = f32(pixel(i));
                let o = u32(min(v * gain_at(i % p.width, i / p.width) + 0.5, 255.0));
                packed = packed | (o << (8u * k));
                atomicAdd(&local_hist[o], 1u);
            }
        }
        flat[word] = packed;
    }
    workgroupBarrier();
    for (var b = lid; b < 256u; b = b + 64u) {
        let c = atomicLoad(&local_hist[b]);
        if (c > 0u) {
            atomicAdd(&hist[b], c);
        }
    }
}

@compute @workgroup_size(64)
fn apply_lut(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = linear(gid, nwg);
    if (word * 4u >= p.width * p.height) {
        return;
    }
    let v = flat[word];
    flat[word] = lut[v & 255u] | (lut[(v >> 8u) & 255u] << 8u) | (lut[(v >> 16u) & 255u] << 16u)
        | (lut[v >> 24u] << 24u);
}

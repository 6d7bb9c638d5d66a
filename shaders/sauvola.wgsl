// Sauvola binarisation over the integral images of integral.wgsl. CPU twin:
// preprocess::binarize::sauvola (its `Classifier::is_ink` decision, window clipped at the
// edges). Ink = 0, paper = 255, packed 4 pixels per u32.
//
// Window sums come from the exact integer tables; the variance numerator n*q - s^2 is
// computed exactly in emulated 64-bit integers (u32 pairs) like the CPU's i64, then converted
// to f32. Remaining differences to the CPU come from f32 rounding (division, possible fused
// multiply-adds, a two-step 64-bit -> f32 conversion) and only flip pixels whose decision is
// a tie to within one f32 ulp.

struct Params {
    width: u32,
    height: u32,
    radius: u32,      // window half-size: the window is 2 * radius + 1 pixels wide
    k: f32,           // Sauvola's k, already clamped to 0..=1
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gray: array<u32>;
@group(0) @binding(2) var<storage, read> sum: array<u32>;
@group(0) @binding(3) var<storage, read> sum_sq: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> binary: array<u32>;

const SAUVOLA_R: f32 = 128.0;
const MIN_VAR: f32 = 9.0;      // MIN_STD^2
const DARK_LEVEL: f32 = 72.0;

fn pixel(i: u32) -> u32 {
    return (gray[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

// Full 32 x 32 -> 64-bit product.
fn mul32(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = p01 + p10;
    let mid_carry = select(0u, 0x10000u, mid < p01);
    let lo = p00 + (mid << 16u);
    let lo_carry = select(0u, 1u, lo < p00);
    return vec2<u32>(lo, p11 + (mid >> 16u) + mid_carry + lo_carry);
}

fn to_f32(v: vec2<u32>) -> f32 {
    return f32(v.y) * 4294967296.0 + f32(v.x);
}

fn is_ink(x: u32, y: u32) -> bool {
    let v = f32(pixel(y * p.width + x));
    let x0 = select(0u, x - p.radius, x >= p.radius);
    let y0 = select(0u, y - p.radius, y >= p.radius);
    let x1 = min(x + p.radius + 1u, p.width);
    let y1 = min(y + p.radius + 1u, p.height);
    let stride = p.width + 1u;
    let a = y0 * stride;
    let b = y1 * stride;
    // Unsigned wrap-around makes the four-corner difference exact as long as the true window
    // sum fits (it does: at most 1001^2 * 255 < 2^32).
    let s = sum[b + x1] + sum[a + x0] - sum[b + x0] - sum[a + x1];
    let q = sub64(add64(sum_sq[b + x1], sum_sq[a + x0]), add64(sum_sq[b + x0], sum_sq[a + x1]));
    let rows = y1 - y0;
    let cols = x1 - x0;
    let n = rows * cols;
    let inv_n = (1.0 / f32(rows)) * (1.0 / f32(cols));
    let mean = f32(s) * inv_n;
    if (v < DARK_LEVEL && mean < DARK_LEVEL) {
        return true;
    }
    // n * q - s^2 in 64 bits: n * q = n * q.lo + (n * q.hi) << 32.
    let nq = add64(mul32(n, q.x), vec2<u32>(0u, n * q.y));
    let d = sub64(nq, mul32(s, s));
    var num = 0.0;
    if ((d.y & 0x80000000u) == 0u) {
        num = to_f32(d);
    }
    let variance = num * (inv_n * inv_n);
    if (variance < MIN_VAR) {
        return false;
    }
    let t = v - mean * (1.0 - p.k);
    if (t <= 0.0) {
        return true;
    }
    let lhs = t * SAUVOLA_R;
    let mk = mean * p.k;
    return lhs * lhs <= mk * mk * variance;
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
        var out = 255u;
        if (i < total && is_ink(i % p.width, i / p.width)) {
            out = 0u;
        }
        packed = packed | (out << (8u * k));
    }
    binary[word] = packed;
}

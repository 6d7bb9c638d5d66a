// Integral images (summed-area tables) of a gray page. CPU twin:
// preprocess::binarize::integral_images, same layout: (w + 1) x (h + 1) entries, zero first
// row and column, entry (x, y) = total over pixels [0, x) x [0, y).
//
// Precision: WGSL has no 64-bit integers and f32 sums lose exactness beyond 2^24, so the sum
// is kept in u32 (exact up to 16.8 M pixels of value 255: pages up to ~4,000 x 4,000) and the
// sum of squares in a u32 pair (lo, hi) with explicit carries, exact like the CPU's u64. The
// tables therefore equal the CPU's exactly (tested bit for bit).
//
// Two passes: `columns` (one invocation per column, running sums down the column: adjacent
// invocations touch adjacent words, so memory access is coalesced), then `rows` (one
// invocation per row, running sums along the row, adding 64-bit values).

struct Params {
    width: u32,
    height: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gray: array<u32>;               // 4 pixels per word
@group(0) @binding(2) var<storage, read_write> sum: array<u32>;          // (w+1)*(h+1)
@group(0) @binding(3) var<storage, read_write> sum_sq: array<vec2<u32>>; // (lo, hi)

fn pixel(i: u32) -> u32 {
    return (gray[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    let carry = select(0u, 1u, lo < a.x);
    return vec2<u32>(lo, a.y + b.y + carry);
}

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// Column pass: table(x+1, y+1) = sum of column x over rows [0, y]; row 0 and column 0 = 0.
@compute @workgroup_size(64)
fn columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let x = index(gid, nwg);
    let stride = p.width + 1u;
    if (x > p.width) {
        return;
    }
    sum[x] = 0u;
    sum_sq[x] = vec2<u32>(0u, 0u);
    if (x == 0u) {
        for (var y = 1u; y <= p.height; y = y + 1u) {
            sum[y * stride] = 0u;
            sum_sq[y * stride] = vec2<u32>(0u, 0u);
        }
        return;
    }
    var s = 0u;
    var q = vec2<u32>(0u, 0u);
    for (var y = 0u; y < p.height; y = y + 1u) {
        let v = pixel(y * p.width + x - 1u);
        s = s + v;
        q = add64(q, vec2<u32>(v * v, 0u));
        sum[(y + 1u) * stride + x] = s;
        sum_sq[(y + 1u) * stride + x] = q;
    }
}

// Row pass: prefix sums of the column sums along each row.
@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let y = index(gid, nwg) + 1u;
    if (y > p.height) {
        return;
    }
    let stride = p.width + 1u;
    let base = y * stride;
    var s = 0u;
    var q = vec2<u32>(0u, 0u);
    for (var x = 1u; x <= p.width; x = x + 1u) {
        s = s + sum[base + x];
        q = add64(q, sum_sq[base + x]);
        sum[base + x] = s;
        sum_sq[base + x] = q;
    }
}

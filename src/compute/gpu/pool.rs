//! A pool of GPU buffers reused between calls: allocating device memory per batch costs more
//! than the small kernels themselves, so buffers are kept by (usage, power-of-two size) and
//! handed out again. The pool keeps at most [`POOL_MAX_BYTES`] of idle buffers.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Most bytes of idle buffers the pool keeps; beyond this, returned buffers are freed.
pub const POOL_MAX_BYTES: u64 = 1 << 30;
/// Smallest buffer handed out (avoids many tiny allocations).
const MIN_SIZE: u64 = 4096;

/// Idle buffers keyed by (usage bits, size), and their total bytes.
type IdleBuffers = (HashMap<(u32, u64), Vec<wgpu::Buffer>>, u64);

/// Idle buffers by (usage bits, size).
#[derive(Default)]
pub(crate) struct BufferPool {
    idle: Mutex<IdleBuffers>,
}

impl BufferPool {
    /// A buffer of at least `size` bytes with exactly `usage`; contents are undefined.
    pub(crate) fn acquire(
        &self,
        device: &wgpu::Device,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let size = size.max(MIN_SIZE).next_power_of_two();
        {
            let mut guard = self.idle.lock();
            let (map, bytes) = &mut *guard;
            if let Some(buf) = map.get_mut(&(usage.bits(), size)).and_then(Vec::pop) {
                *bytes -= size;
                return buf;
            }
        }
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ferrocr-pool"),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    /// Give a buffer back for reuse (freed when the pool is full).
    pub(crate) fn release(&self, buffer: wgpu::Buffer) {
        let size = buffer.size();
        let mut guard = self.idle.lock();
        let (map, bytes) = &mut *guard;
        if *bytes + size > POOL_MAX_BYTES {
            buffer.destroy();
            return;
        }
        *bytes += size;
        map.entry((buffer.usage().bits(), size))
            .or_default()
            .push(buffer);
    }

    /// Bytes held by idle buffers.
    pub(crate) fn idle_bytes(&self) -> u64 {
        self.idle.lock().1
    }
}

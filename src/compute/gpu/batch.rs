//! One command submission: uploads, a compute pass with many dispatches (one or more per page),
//! and read-backs, with every wgpu error turned into [`OcrError::Backend`].
//!
//! Pages of a batch share buffers: each role (input pages, output pages, tables) is one pooled
//! buffer holding every page at an aligned offset, and each dispatch binds its page's slice.
//! Per-dispatch parameters go into one uniform buffer, one aligned slot per dispatch.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::context::GpuContext;
use super::pool::BufferPool;
use crate::error::{OcrError, Result};

/// Index of a buffer within a [`Batch`].
pub(crate) type BufId = usize;

/// Workgroup size of every kernel (`@workgroup_size(64)`).
const WORKGROUP: u32 = 64;
/// Bytes of per-dispatch parameters (16 words; each shader's `Params` fits).
const PARAMS_BYTES: u64 = 64;

/// A byte range of a batch buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice {
    pub buf: BufId,
    pub offset: u64,
    pub size: u64,
}

/// Offsets of several parts packed into one buffer (each part rounded up to 4 bytes and
/// aligned to the binding alignment).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub offsets: Vec<u64>,
    pub sizes: Vec<u64>,
    pub total: u64,
}

impl Layout {
    /// Lay out parts of `sizes` bytes at multiples of `align`.
    pub(crate) fn new(sizes: impl IntoIterator<Item = u64>, align: u64) -> Self {
        let (mut offsets, mut out_sizes, mut total) = (Vec::new(), Vec::new(), 0u64);
        for s in sizes {
            let s = s.max(4).div_ceil(4) * 4;
            offsets.push(total);
            out_sizes.push(s);
            total = (total + s).div_ceil(align) * align;
        }
        Layout {
            offsets,
            sizes: out_sizes,
            total: total.max(4),
        }
    }

    /// Part `i` of buffer `buf`.
    pub(crate) fn slice(&self, buf: BufId, i: usize) -> Slice {
        Slice {
            buf,
            offset: self.offsets[i],
            size: self.sizes[i],
        }
    }

    /// The whole buffer `buf` as laid out.
    pub(crate) fn whole(&self, buf: BufId) -> Slice {
        Slice {
            buf,
            offset: 0,
            size: self.total,
        }
    }

    /// Copy `parts` into one byte vector following this layout.
    pub(crate) fn pack(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0u8; self.total as usize];
        for (p, &o) in parts.iter().zip(&self.offsets) {
            out[o as usize..o as usize + p.len()].copy_from_slice(p);
        }
        out
    }
}

struct Dispatch<'p> {
    pipeline: &'p wgpu::ComputePipeline,
    params: [u32; 16],
    bindings: Vec<(u32, Slice)>,
    invocations: u32,
}

/// A batch of kernel dispatches executed by one queue submission.
pub(crate) struct Batch<'a> {
    ctx: &'a GpuContext,
    pool: &'a BufferPool,
    buffers: Vec<wgpu::Buffer>,
    kept: Vec<bool>,
    clears: Vec<BufId>,
    dispatches: Vec<Dispatch<'a>>,
    reads: Vec<Slice>,
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

impl<'a> Batch<'a> {
    pub(crate) fn new(ctx: &'a GpuContext, pool: &'a BufferPool) -> Self {
        Batch {
            ctx,
            pool,
            buffers: Vec::new(),
            kept: Vec::new(),
            clears: Vec::new(),
            dispatches: Vec::new(),
            reads: Vec::new(),
        }
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.ctx.max_binding_bytes() {
            return Err(OcrError::Backend(format!(
                "GPU buffer of {size} bytes exceeds the device limit of {} bytes",
                self.ctx.max_binding_bytes()
            )));
        }
        Ok(())
    }

    /// A storage buffer holding `data` (length a multiple of 4).
    pub(crate) fn upload(&mut self, data: &[u8]) -> Result<BufId> {
        let id = self.scratch(data.len() as u64)?;
        self.ctx.queue.write_buffer(&self.buffers[id], 0, data);
        Ok(id)
    }

    /// A storage buffer of at least `size` bytes with undefined contents.
    pub(crate) fn scratch(&mut self, size: u64) -> Result<BufId> {
        self.check_size(size)?;
        let buf = self.pool.acquire(&self.ctx.device, size, STORAGE);
        Ok(self.adopt(buf))
    }

    /// Use a buffer kept from an earlier batch (see [`Batch::keep`]); it returns to the pool
    /// after this batch unless kept again.
    pub(crate) fn adopt(&mut self, buffer: wgpu::Buffer) -> BufId {
        self.buffers.push(buffer);
        self.kept.push(false);
        self.buffers.len() - 1
    }

    /// Keep buffer `id` out of the pool after this batch, so that a later batch can
    /// [`Batch::adopt`] it without a new upload (multi-stage kernels with host steps between).
    pub(crate) fn keep(&mut self, id: BufId) -> wgpu::Buffer {
        self.kept[id] = true;
        self.buffers[id].clone()
    }

    /// A storage buffer of at least `size` bytes cleared to zero before the dispatches.
    pub(crate) fn zeroed(&mut self, size: u64) -> Result<BufId> {
        let id = self.scratch(size)?;
        self.clears.push(id);
        Ok(id)
    }

    /// Record a dispatch of `invocations` threads of `pipeline` with these bindings
    /// (binding 0 is always the parameters).
    pub(crate) fn dispatch(
        &mut self,
        pipeline: &'a wgpu::ComputePipeline,
        params: [u32; 16],
        bindings: Vec<(u32, Slice)>,
        invocations: u32,
    ) {
        if invocations > 0 {
            self.dispatches.push(Dispatch {
                pipeline,
                params,
                bindings,
                invocations,
            });
        }
    }

    /// Read `slice` back after the batch; returns its index in [`Batch::run`]'s output.
    pub(crate) fn read(&mut self, slice: Slice) -> usize {
        self.reads.push(slice);
        self.reads.len() - 1
    }

    /// Submit everything, wait, and return the read-backs in the order requested.
    pub(crate) fn run(self) -> Result<Vec<Vec<u8>>> {
        self.ctx.health()?;
        let device = self.ctx.device.clone();
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let result = catch_unwind(AssertUnwindSafe(|| self.execute()));
        let oom = pollster::block_on(oom.pop());
        let validation = pollster::block_on(validation.pop());
        if let Some(e) = oom.or(validation) {
            return Err(OcrError::Backend(format!("GPU error: {e}")));
        }
        self.ctx.health()?;
        match result {
            Ok(r) => r,
            Err(_) => Err(OcrError::Backend("GPU batch panicked".into())),
        }
    }

    fn execute(&self) -> Result<Vec<Vec<u8>>> {
        let (ctx, device) = (self.ctx, &self.ctx.device);
        let align = ctx.alignment();
        let n = self.dispatches.len().max(1) as u64;
        let params_buf = self.pool.acquire(
            device,
            n * align,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let mut params = vec![0u8; (n * align) as usize];
        for (i, d) in self.dispatches.iter().enumerate() {
            let o = i * align as usize;
            params[o..o + PARAMS_BYTES as usize].copy_from_slice(bytemuck::cast_slice(&d.params));
        }
        ctx.queue.write_buffer(&params_buf, 0, &params);

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("ferrocr-batch"),
        });
        for &id in &self.clears {
            encoder.clear_buffer(&self.buffers[id], 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("ferrocr-kernels"),
                timestamp_writes: None,
            });
            for (i, d) in self.dispatches.iter().enumerate() {
                let mut entries = vec![wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &params_buf,
                        offset: i as u64 * align,
                        size: wgpu::BufferSize::new(PARAMS_BYTES),
                    }),
                }];
                for (binding, s) in &d.bindings {
                    entries.push(wgpu::BindGroupEntry {
                        binding: *binding,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &self.buffers[s.buf],
                            offset: s.offset,
                            size: wgpu::BufferSize::new(s.size),
                        }),
                    });
                }
                let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &d.pipeline.get_bind_group_layout(0),
                    entries: &entries,
                });
                let groups = d.invocations.div_ceil(WORKGROUP);
                let x = groups.min(65535);
                pass.set_pipeline(d.pipeline);
                pass.set_bind_group(0, &group, &[]);
                pass.dispatch_workgroups(x, groups.div_ceil(x), 1);
            }
        }
        let mut staging = Vec::with_capacity(self.reads.len());
        for s in &self.reads {
            let buf = self.pool.acquire(
                device,
                s.size,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );
            encoder.copy_buffer_to_buffer(&self.buffers[s.buf], s.offset, &buf, 0, s.size);
            staging.push(buf);
        }
        ctx.queue.submit([encoder.finish()]);

        let (tx, rx) = crossbeam_channel::unbounded();
        for (i, (buf, s)) in staging.iter().zip(&self.reads).enumerate() {
            let tx = tx.clone();
            buf.slice(..s.size)
                .map_async(wgpu::MapMode::Read, move |r| drop(tx.send((i, r))));
        }
        drop(tx);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| OcrError::Backend(format!("GPU wait failed: {e}")))?;
        let mut failed = None;
        for (i, r) in rx.try_iter() {
            if let Err(e) = r {
                failed = Some(format!("read-back {i} failed: {e}"));
            }
        }
        let mut out = Vec::with_capacity(staging.len());
        for (buf, s) in staging.iter().zip(&self.reads) {
            if failed.is_none() {
                let view = buf
                    .slice(..s.size)
                    .get_mapped_range()
                    .map_err(|e| OcrError::Backend(format!("GPU read-back failed: {e:?}")))?;
                out.push(view.to_vec());
                drop(view);
                buf.unmap();
            }
        }
        for buf in staging {
            if failed.is_none() {
                self.pool.release(buf);
            }
        }
        self.pool.release(params_buf);
        for (buf, &kept) in self.buffers.iter().zip(&self.kept) {
            if !kept {
                self.pool.release(buf.clone());
            }
        }
        match failed {
            Some(why) => Err(OcrError::Backend(why)),
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_aligns_parts_and_packs_them() {
        let l = Layout::new([5u64, 0, 300], 256);
        assert_eq!(l.offsets, vec![0, 256, 512]);
        assert_eq!(l.sizes, vec![8, 4, 300]);
        assert_eq!(l.total, 1024);
        let packed = l.pack(&[&[1, 2, 3, 4, 5], &[], &[9; 300]]);
        assert_eq!(&packed[..6], &[1, 2, 3, 4, 5, 0]);
        assert_eq!(packed[512], 9);
        assert_eq!(packed[811], 9);
        assert_eq!(packed[812], 0);
    }
}

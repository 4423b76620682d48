//! Candle ops on siglens' own CUDA kernels (`cuda/siglens_kernels.cu`, compiled to PTX by
//! build.rs): a linear layer's epilogue fused into one in-place pass, and fused attention.
//! Both return `None` / fall back where their kernel does not apply, so callers keep the
//! composed Candle path as the general case (and as the CPU path).

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::sys::CUfunction_attribute_enum;
use candle_core::cuda_backend::cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp3, DType, InplaceOp2, InplaceOp3, Layout, Shape, Tensor,
};

mod ptx {
    include!(concat!(env!("OUT_DIR"), "/ptx.rs"));
}
const MODULE: &str = "siglens_kernels";

/// Kernel name for a dtype: `{base}_{f32|bf16|f16}`.
fn kernel(base: &str, dt: DType) -> candle_core::Result<String> {
    Ok(match dt {
        DType::F32 => format!("{base}_f32"),
        DType::BF16 => format!("{base}_bf16"),
        DType::F16 => format!("{base}_f16"),
        dt => bail!("{base}: no kernel for {dt:?}"),
    })
}

/// `y = act(y + bias) + res` in place (`res` optional), `y` contiguous `(.., cols)`.
struct BiasEpilogue {
    gelu: bool,
}

impl BiasEpilogue {
    fn launch<T: CudaDType + DeviceRepr>(
        &self,
        y: &mut CudaStorage,
        yl: &Layout,
        b: &CudaStorage,
        bl: &Layout,
        res: Option<(&CudaStorage, &Layout)>,
    ) -> candle_core::Result<()> {
        let dev = y.device().clone();
        let name = kernel("bias_epilogue", y.dtype())?;
        let (Some((y0, y1)), Some((b0, b1))) = (yl.contiguous_offsets(), bl.contiguous_offsets())
        else {
            bail!("bias epilogue: contiguous tensors only")
        };
        let cols = *yl.dims().last().unwrap_or(&1);
        if b1 - b0 != cols || cols == 0 {
            bail!("bias epilogue: bias of {} for rows of {cols}", b1 - b0)
        }
        let n = y1 - y0;
        let v = 16 / std::mem::size_of::<T>();
        let mut vec = cols.is_multiple_of(v) && y0.is_multiple_of(v);
        let func = dev.get_or_load_custom_func(&name, MODULE, ptx::SIGLENS_KERNELS)?;
        let bias = b.as_cuda_slice::<T>()?.slice(b0..b1);
        let res = match res {
            Some((r, rl)) => match rl.contiguous_offsets() {
                Some((r0, r1)) if r1 - r0 == n => {
                    vec &= r0.is_multiple_of(v);
                    Some(r.as_cuda_slice::<T>()?.slice(r0..r1))
                }
                _ => bail!("bias epilogue: residual must be contiguous and of y's shape"),
            },
            None => None,
        };
        let mut out = y.as_cuda_slice_mut::<T>()?.slice_mut(y0..y1);
        let units = if vec { n / v } else { n };
        let threads = 256u32;
        let blocks = units.div_ceil(threads as usize).clamp(1, 132 * 16) as u32;
        let cfg = LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        };
        let (rows, cols) = ((n / cols) as i64, cols as i64);
        let (act, vec) = (self.gelu as i32, vec as i32);
        let null = 0u64;
        let mut builder = func.builder();
        builder.arg(&mut out);
        builder.arg(&bias);
        match &res {
            Some(r) => builder.arg(r),
            None => builder.arg(&null),
        };
        builder.arg(&rows);
        builder.arg(&cols);
        builder.arg(&act);
        builder.arg(&vec);
        // SAFETY: argument types and order match `bias_epilogue_*`; bounds come from layouts.
        unsafe { builder.launch(cfg) }.w()?;
        Ok(())
    }

    fn dispatch(
        &self,
        y: &mut CudaStorage,
        yl: &Layout,
        b: &CudaStorage,
        bl: &Layout,
        res: Option<(&CudaStorage, &Layout)>,
    ) -> candle_core::Result<()> {
        match y.dtype() {
            DType::F32 => self.launch::<f32>(y, yl, b, bl, res),
            DType::BF16 => self.launch::<half::bf16>(y, yl, b, bl, res),
            DType::F16 => self.launch::<half::f16>(y, yl, b, bl, res),
            dt => bail!("bias epilogue: no kernel for {dt:?}"),
        }
    }
}

impl InplaceOp2 for BiasEpilogue {
    fn name(&self) -> &'static str {
        "siglens-bias-epilogue"
    }
    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<()> {
        bail!("siglens bias epilogue: CUDA only")
    }
    fn cuda_fwd(
        &self,
        y: &mut CudaStorage,
        yl: &Layout,
        b: &CudaStorage,
        bl: &Layout,
    ) -> candle_core::Result<()> {
        self.dispatch(y, yl, b, bl, None)
    }
}

impl InplaceOp3 for BiasEpilogue {
    fn name(&self) -> &'static str {
        "siglens-bias-epilogue-residual"
    }
    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<()> {
        bail!("siglens bias epilogue: CUDA only")
    }
    fn cuda_fwd(
        &self,
        y: &mut CudaStorage,
        yl: &Layout,
        b: &CudaStorage,
        bl: &Layout,
        r: &CudaStorage,
        rl: &Layout,
    ) -> candle_core::Result<()> {
        self.dispatch(y, yl, b, bl, Some((r, rl)))
    }
}

/// `y = gelu?(y + bias) + res?` in place on a fresh, contiguous CUDA tensor (a matmul's
/// output), in one pass: replaces a broadcast add, an activation and a residual add.
pub fn bias_epilogue(
    y: &Tensor,
    bias: &Tensor,
    gelu: bool,
    res: Option<&Tensor>,
) -> candle_core::Result<()> {
    let op = BiasEpilogue { gelu };
    match res {
        Some(r) => y.inplace_op3(bias, &r.contiguous()?, &op),
        None => y.inplace_op2(bias, &op),
    }
}

/// Largest key length the fused kernel holds in shared memory (`ATTN_MAX_SKV`).
const ATTN_MAX_SKV: usize = 416;
const ATTN_D: usize = 64;
/// Padded shared-memory row strides of the kernel (`ATTN_LD`, `ATTN_OUT_LD`).
const ATTN_LD: usize = 72;
const ATTN_OUT_LD: usize = 68;
const ATTN_WARPS: usize = 4;
/// Query rows per block (`ATTN_BLOCK_ROWS`): all of a head at 224 px, so k and v load once.
const ATTN_BLOCK_ROWS: usize = 256;

struct Attention {
    heads: usize,
    scale: f32,
}

/// One input's view: storage offset, batch stride, row stride (in elements).
fn view(l: &Layout) -> Option<(usize, i64, i64)> {
    let st = l.stride();
    (l.dims().len() == 3 && st[2] == 1).then(|| (l.start_offset(), st[0] as i64, st[1] as i64))
}

impl Attention {
    fn shared_bytes(skv: usize, elem: usize) -> usize {
        let skp = skv.div_ceil(16) * 16;
        2 * skp * ATTN_LD * elem + ATTN_WARPS * 16 * (skp + 4).max(ATTN_OUT_LD) * 4
    }

    #[allow(clippy::too_many_arguments)]
    fn launch<T: CudaDType + DeviceRepr>(
        &self,
        q: &CudaStorage,
        ql: &Layout,
        k: &CudaStorage,
        kl: &Layout,
        v: &CudaStorage,
        vl: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        let dev = q.device().clone();
        let (Some(qv), Some(kv), Some(vv)) = (view(ql), view(kl), view(vl)) else {
            bail!("fused attention: (b, s, heads*64) views with unit column stride only")
        };
        let (b, sq, hidden) = ql.shape().dims3()?;
        let skv = kl.dims()[1];
        let name = kernel("attention_d64", q.dtype())?;
        let func = dev.get_or_load_custom_func(&name, MODULE, ptx::SIGLENS_KERNELS)?;
        let smem = Self::shared_bytes(skv, std::mem::size_of::<T>());
        func.set_attribute(
            CUfunction_attribute_enum::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            smem as i32,
        )
        .w()?;
        let qs = q.as_cuda_slice::<T>()?.slice(qv.0..);
        let ks = k.as_cuda_slice::<T>()?.slice(kv.0..);
        let vs = v.as_cuda_slice::<T>()?.slice(vv.0..);
        // SAFETY: every element is written by the kernel (all rows < sq of every head).
        let out = unsafe { dev.alloc::<T>(b * sq * hidden)? };
        let cfg = LaunchConfig {
            grid_dim: (
                sq.div_ceil(ATTN_BLOCK_ROWS) as u32,
                self.heads as u32,
                b as u32,
            ),
            block_dim: (32 * ATTN_WARPS as u32, 1, 1),
            shared_mem_bytes: smem as u32,
        };
        let (sq_i, skv_i, heads_i) = (sq as i32, skv as i32, self.heads as i32);
        let mut builder = func.builder();
        builder.arg(&qs);
        builder.arg(&ks);
        builder.arg(&vs);
        builder.arg(&out);
        builder.arg(&sq_i);
        builder.arg(&skv_i);
        builder.arg(&heads_i);
        builder.arg(&qv.1);
        builder.arg(&qv.2);
        builder.arg(&kv.1);
        builder.arg(&kv.2);
        builder.arg(&vv.1);
        builder.arg(&vv.2);
        builder.arg(&self.scale);
        // SAFETY: argument types and order match `attention_d64_*`; `applies` checked the
        // shapes, strides and alignment the kernel relies on.
        unsafe { builder.launch(cfg) }.w()?;
        Ok((
            CudaStorage::wrap_cuda_slice(out, dev),
            Shape::from((b, sq, hidden)),
        ))
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "siglens-fused-attention"
    }
    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        bail!("siglens fused attention: CUDA only")
    }
    fn cuda_fwd(
        &self,
        q: &CudaStorage,
        ql: &Layout,
        k: &CudaStorage,
        kl: &Layout,
        v: &CudaStorage,
        vl: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        match q.dtype() {
            DType::BF16 => self.launch::<half::bf16>(q, ql, k, kl, v, vl),
            DType::F16 => self.launch::<half::f16>(q, ql, k, kl, v, vl),
            dt => bail!("fused attention: no kernel for {dt:?}"),
        }
    }
}

/// Whether the fused kernel takes these inputs: 16-bit floats on CUDA, head size 64, no
/// more keys than fit in shared memory, `(b, s, heads*64)` views whose rows and offsets are
/// 16-byte aligned (the kernel's vector loads).
fn applies(q: &Tensor, k: &Tensor, v: &Tensor, heads: usize) -> bool {
    let ok_dtype = matches!(q.dtype(), DType::BF16 | DType::F16);
    let aligned = |t: &Tensor| {
        view(t.layout())
            .is_some_and(|(off, bs, rs)| off.is_multiple_of(8) && bs % 8 == 0 && rs % 8 == 0)
    };
    let dims = (q.dims3(), k.dims3(), v.dims3());
    let (Ok((b, _, hq)), Ok((bk, skv, hk)), Ok((bv, sv, hv))) = dims else {
        return false;
    };
    ok_dtype
        && q.device().is_cuda()
        && k.dtype() == q.dtype()
        && v.dtype() == q.dtype()
        && hq == heads * ATTN_D
        && (hk, hv, bk, bv, sv) == (hq, hq, b, b, skv)
        && skv <= ATTN_MAX_SKV
        && aligned(q)
        && aligned(k)
        && aligned(v)
}

/// `softmax(scale q kᵀ) v` per head, merged back to `(b, sq, heads*64)`, or `None` where the
/// fused kernel does not apply (the caller then runs the composed path).
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    scale: f32,
) -> candle_core::Result<Option<Tensor>> {
    if !applies(q, k, v, heads) {
        return Ok(None);
    }
    q.apply_op3_no_bwd(k, v, &Attention { heads, scale })
        .map(Some)
}

/// Page-locked host staging for pixel uploads. From pageable memory a large copy blocks
/// the host until the stream reaches it (the driver stages it in small pieces behind the
/// previous batch's kernels) and then crawls; from pinned memory it is one DMA the host
/// does not wait for, so the next batch is assembled while this one computes. Refilling
/// waits only for this buffer's previous copy (cudarc records an event per copy).
pub struct PinnedUpload {
    buf: candle_core::cuda_backend::cudarc::driver::PinnedHostSlice<f32>,
}

impl PinnedUpload {
    /// `None` off CUDA.
    pub fn new(dev: &candle_core::Device, len: usize) -> candle_core::Result<Option<Self>> {
        let candle_core::Device::Cuda(cuda) = dev else {
            return Ok(None);
        };
        // SAFETY: the contents are written by `upload`'s `fill` before every copy.
        let buf = unsafe { cuda.cuda_stream().context().alloc_pinned::<f32>(len) }.w()?;
        Ok(Some(Self { buf }))
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Fills the whole buffer with `fill` and starts its copy to a new device tensor.
    pub fn upload<S: Into<Shape>>(
        &mut self,
        dev: &candle_core::Device,
        shape: S,
        fill: impl FnOnce(&mut [f32]),
    ) -> candle_core::Result<Tensor> {
        let candle_core::Device::Cuda(cuda) = dev else {
            bail!("pinned upload: not a CUDA device")
        };
        let shape = shape.into();
        if shape.elem_count() != self.buf.len() {
            bail!("pinned upload: {shape:?} into {} values", self.buf.len())
        }
        fill(self.buf.as_mut_slice().w()?);
        let slice = cuda.cuda_stream().clone_htod(&self.buf).w()?;
        let storage = CudaStorage::wrap_cuda_slice(slice, cuda.clone());
        Ok(Tensor::from_storage(
            candle_core::Storage::Cuda(storage),
            shape,
            candle_core::op::BackpropOp::none(),
            false,
        ))
    }
}

//! Where the model computes and in which float type: the one place that maps a user's
//! `cpu | cuda[:N] | metal[:N] | auto` and `f32 | bf16 | f16` to Candle's `Device`/`DType`.
//! GPU backends exist only when the crate is built with the `cuda` / `metal` feature.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device};

use crate::error::{Error, Result};

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
    Metal(usize),
    /// The first GPU this build supports and the machine has, else the CPU.
    Auto,
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (kind, ordinal) = match s.split_once(':') {
            Some((k, n)) => {
                let n = n.parse::<usize>().map_err(|_| {
                    Error::Unsupported(format!("device {s:?}: {n:?} is not a GPU number"))
                })?;
                (k, Some(n))
            }
            None => (s, None),
        };
        match (kind.to_ascii_lowercase().as_str(), ordinal) {
            ("cpu", None) => Ok(Self::Cpu),
            ("auto", None) => Ok(Self::Auto),
            ("cuda", n) => Ok(Self::Cuda(n.unwrap_or(0))),
            ("metal", n) => Ok(Self::Metal(n.unwrap_or(0))),
            _ => Err(Error::Unsupported(format!(
                "device {s:?}: expected cpu, cuda[:N], metal[:N] or auto"
            ))),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
            Self::Auto => write!(f, "auto"),
        }
    }
}

impl DeviceSpec {
    /// Opens the device. A GPU this build was not compiled for is an error that says which
    /// feature to build with; `Auto` quietly falls back to the CPU.
    pub fn open(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(Error::Unsupported(
                        "this siglens was built without CUDA (build with --features cuda, see tools/build-cuda.sh)".into(),
                    ));
                }
                let dev = Device::new_cuda(n)
                    .map_err(|e| Error::Unsupported(format!("cannot open CUDA device {n}: {e}")))?;
                #[cfg(feature = "cuda")]
                cuda_tuning(&dev)?;
                Ok(dev)
            }
            Self::Metal(n) => {
                if !candle_core::utils::metal_is_available() {
                    return Err(Error::Unsupported(
                        "this siglens was built without Metal (build with --features metal)".into(),
                    ));
                }
                Device::new_metal(n)
                    .map_err(|e| Error::Unsupported(format!("cannot open Metal device {n}: {e}")))
            }
            Self::Auto => Ok([Self::Cuda(0), Self::Metal(0)]
                .into_iter()
                .find_map(|d| d.open().ok())
                .unwrap_or(Device::Cpu)),
        }
    }
}

/// Two CUDA settings for throughput (measured on an H200 together with the other GPU
/// changes, BENCHMARKS.md):
/// - Keep freed device memory in the stream-ordered pool. By default the driver returns it
///   to the OS at every synchronisation, and the engine synchronises once per batch (to
///   read the embeddings), so each batch would map its working set afresh (PyTorch's
///   caching allocator keeps it too).
/// - No per-tensor CUDA events: Candle records them so tensors can cross streams; the
///   engine uses one stream (the device's), so they only cost time on every launch.
///   Must run before any tensor is made on the device (it applies to later tensors).
#[cfg(feature = "cuda")]
fn cuda_tuning(dev: &Device) -> Result<()> {
    use candle_core::cuda_backend::cudarc::driver::sys;
    let Device::Cuda(cuda) = dev else {
        return Ok(());
    };
    let stream = cuda.cuda_stream();
    let ctx = stream.context();
    let failed =
        |what: &str, r: sys::CUresult| Error::Unsupported(format!("CUDA {what} failed: {r:?}"));
    ctx.bind_to_thread()
        .map_err(|e| Error::Unsupported(format!("CUDA context: {e}")))?;
    // SAFETY: plain driver calls on the device's own default pool; `threshold` outlives them.
    unsafe {
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        let r = sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device());
        if r != sys::CUresult::CUDA_SUCCESS {
            return Err(failed("cuDeviceGetDefaultMemPool", r));
        }
        let mut threshold = u64::MAX;
        let r = sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        );
        if r != sys::CUresult::CUDA_SUCCESS {
            return Err(failed("cuMemPoolSetAttribute", r));
        }
        // SAFETY: the engine launches everything on this one stream (see above).
        cuda.disable_event_tracking();
    }
    Ok(())
}

/// The float type activations and dense weights are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComputeDType {
    #[default]
    F32,
    Bf16,
    F16,
}

impl FromStr for ComputeDType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            "f16" | "fp16" => Ok(Self::F16),
            _ => Err(Error::Unsupported(format!(
                "compute dtype {s:?}: expected f32, bf16 or f16"
            ))),
        }
    }
}

impl ComputeDType {
    /// The Candle dtype on `device`. Half precision is for GPUs only: Candle's CPU half
    /// matmuls are slower than f32 there, and the CPU path is the one held to parity.
    pub fn on(self, device: &Device) -> Result<DType> {
        let dt = match self {
            Self::F32 => return Ok(DType::F32),
            Self::Bf16 => DType::BF16,
            Self::F16 => DType::F16,
        };
        if device.is_cpu() {
            return Err(Error::Unsupported(format!(
                "compute dtype {dt:?} needs a GPU device (--device cuda); the CPU computes in f32"
            )));
        }
        Ok(dt)
    }
}

/// Threads the CPU kernels use (`RAYON_NUM_THREADS`, else every core): benchmarks report it.
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cpu));
        assert_eq!("cuda".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cuda(0)));
        assert_eq!(
            "CUDA:3".parse::<DeviceSpec>().ok(),
            Some(DeviceSpec::Cuda(3))
        );
        assert_eq!("auto".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Auto));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert!("cpu:1".parse::<DeviceSpec>().is_err());
        assert!("tpu".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn half_precision_is_gpu_only() {
        assert_eq!(ComputeDType::F32.on(&Device::Cpu).ok(), Some(DType::F32));
        assert!(ComputeDType::Bf16.on(&Device::Cpu).is_err());
        assert_eq!(
            "bf16".parse::<ComputeDType>().ok(),
            Some(ComputeDType::Bf16)
        );
    }

    #[test]
    fn auto_opens_something() {
        assert!(DeviceSpec::Auto.open().is_ok());
    }
}

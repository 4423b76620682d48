// siglens' own CUDA kernels, for where Candle 0.11's generic ones cost the most on a GPU
// (BENCHMARKS.md, "Native GPU"): a linear layer's epilogue (bias, GELU, residual) in one
// pass over the matmul's output, and attention fused so neither the heads are copied out
// and back nor the scores written to global memory. Compiled to PTX by build.rs
// (cudaforge) when the `cuda` feature is on; launched from src/cuda_ops.rs.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#include <stdint.h>

using namespace nvcuda;

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
    return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half(x); }

// gelu_pytorch_tanh, as x / (1 + e^(-2u)) = 0.5 x (1 + tanh u), in f32.
__device__ __forceinline__ float gelu_tanh(float x) {
    const float u = 0.7978845608f * (x + 0.044715f * x * x * x);
    return x / (1.0f + __expf(-2.0f * u));
}

// y[r, c] = act(y[r, c] + bias[c]) + res[r, c], in place, over `rows x cols` contiguous.
// `res` may be null; act 0 = none, 1 = gelu_tanh. With `vec` (the caller checked that
// `cols` and both offsets are multiples of 16 bytes) a thread moves 16 bytes a step: the
// kernel is memory-bound, and a vector then never straddles two rows.
template <typename T>
__device__ void bias_epilogue(T* y, const T* bias, const T* res, int64_t rows, int64_t cols,
                              int act, int vec) {
    constexpr int V = 16 / sizeof(T);
    const int64_t n = rows * cols;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    if (vec) {
        const int64_t nv = n / V;
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += stride) {
            const int64_t e = i * V;
            const int64_t c = e % cols;
            uint4 yv = reinterpret_cast<uint4*>(y)[i];
            uint4 rv = res ? reinterpret_cast<const uint4*>(res)[i] : make_uint4(0, 0, 0, 0);
            T* ys = reinterpret_cast<T*>(&yv);
            const T* rs = reinterpret_cast<const T*>(&rv);
#pragma unroll
            for (int j = 0; j < V; ++j) {
                float v = to_f32(ys[j]) + to_f32(bias[c + j]);
                if (act == 1) v = gelu_tanh(v);
                if (res) v += to_f32(rs[j]);
                ys[j] = from_f32<T>(v);
            }
            reinterpret_cast<uint4*>(y)[i] = yv;
        }
    } else {
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
            float v = to_f32(y[i]) + to_f32(bias[i % cols]);
            if (act == 1) v = gelu_tanh(v);
            if (res) v += to_f32(res[i]);
            y[i] = from_f32<T>(v);
        }
    }
}

#define BIAS_EPILOGUE(NAME, T)                                                                 \
    extern "C" __global__ void NAME(T* y, const T* bias, const T* res, int64_t rows,          \
                                    int64_t cols, int act, int vec) {                         \
        bias_epilogue<T>(y, bias, res, rows, cols, act, vec);                                  \
    }
BIAS_EPILOGUE(bias_epilogue_f32, float)
BIAS_EPILOGUE(bias_epilogue_bf16, __nv_bfloat16)
BIAS_EPILOGUE(bias_epilogue_f16, __half)

// Fused multi-head attention without a mask, head size 64, on tensor cores (WMMA 16x16x16,
// f32 accumulation): out = softmax(scale * q k^T) v. A block of 4 warps takes one (batch,
// head) and up to 256 query rows, so k and v are read from global memory once per head;
// each warp takes 16-row query tiles in turn. q/k/v are read where the projections wrote
// them (row r of head h at base + b*bstride + r*rstride + h*64), the output is written
// merged (b, sq, heads*64): no head split or merge copies. All of k and v for the head sit
// in shared memory; each warp's region holds its tile's q rows, then its scores (f32), then
// in place its probabilities (T, each row over the first half of its own score row), then
// its f32 output tile. skv is bounded by shared memory (ATTN_MAX_SKV; the caller falls back
// above). Row strides are padded (72 elements, skp + 4 floats, 68 floats) so the 16 rows a
// WMMA load or store touches fall in different shared-memory banks.
// Shared bytes: 2 skp * 72 * sizeof(T) + 4 warps * 16 * max(skp + 4, 68) * 4, where
// skp = skv rounded up to 16 (src/cuda_ops.rs computes the same).
// The softmax is exact over the whole row (not online), in f32, like the unfused path.
#define ATTN_D 64
#define ATTN_LD 72
#define ATTN_OUT_LD 68
#define ATTN_WARPS 4
#define ATTN_BLOCK_ROWS 256
#define ATTN_MAX_SKV 416

template <typename T>
__device__ void attention_d64(const T* q, const T* k, const T* v, T* out, int sq, int skv,
                              int heads, int64_t q_bstride, int64_t q_rstride, int64_t k_bstride,
                              int64_t k_rstride, int64_t v_bstride, int64_t v_rstride,
                              float scale) {
    extern __shared__ __align__(128) unsigned char smem[];
    const int skp = (skv + 15) / 16 * 16;
    const int lds = skp + 4;                              // score row stride (floats)
    const int region = 16 * max(lds, ATTN_OUT_LD);        // floats per warp
    T* ks = reinterpret_cast<T*>(smem);
    T* vs = ks + skp * ATTN_LD;
    float* regions = reinterpret_cast<float*>(vs + skp * ATTN_LD);

    const int q0 = blockIdx.x * ATTN_BLOCK_ROWS;
    const int h = blockIdx.y;
    const int b = blockIdx.z;
    const int tid = threadIdx.x;
    constexpr int V = 16 / sizeof(T);  // elements per 16-byte load
    constexpr int VPR = ATTN_D / V;    // 16-byte vectors per row

    // k, v rows of this head (zeros past skv), 4 loads in flight per thread.
    const T* kb = k + b * k_bstride + h * ATTN_D;
    const T* vb = v + b * v_bstride + h * ATTN_D;
    const T* qb = q + b * q_bstride + h * ATTN_D;
    constexpr int U = 4;
    const int nvec = skp * VPR;
    for (int base = tid; base < nvec; base += U * 32 * ATTN_WARPS) {
        uint4 kv[U], vv[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int i = base + u * 32 * ATTN_WARPS;
            const int r = i / VPR, c = (i % VPR) * V;
            kv[u] = vv[u] = make_uint4(0, 0, 0, 0);
            if (i < nvec && r < skv) {
                kv[u] = *reinterpret_cast<const uint4*>(kb + r * k_rstride + c);
                vv[u] = *reinterpret_cast<const uint4*>(vb + r * v_rstride + c);
            }
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int i = base + u * 32 * ATTN_WARPS;
            const int r = i / VPR, c = (i % VPR) * V;
            if (i < nvec) {
                *reinterpret_cast<uint4*>(ks + r * ATTN_LD + c) = kv[u];
                *reinterpret_cast<uint4*>(vs + r * ATTN_LD + c) = vv[u];
            }
        }
    }
    __syncthreads();

    const int warp = tid / 32, lane = tid % 32;
    float* sc = regions + warp * region;
    T* p = reinterpret_cast<T*>(sc);
    const int64_t hidden = (int64_t)heads * ATTN_D;
    constexpr int PER_LANE = (ATTN_MAX_SKV + 31) / 32;

    for (int row0 = q0 + warp * 16; row0 < min(sq, q0 + ATTN_BLOCK_ROWS); row0 += 16 * ATTN_WARPS) {
        // This tile's q rows (zeros past sq) at the start of the region: 4 vectors a lane.
        uint4 qv[16 * VPR / 32];
#pragma unroll
        for (int u = 0; u < 16 * VPR / 32; ++u) {
            const int i = lane + 32 * u;
            const int r = i / VPR, c = (i % VPR) * V;
            qv[u] = make_uint4(0, 0, 0, 0);
            if (row0 + r < sq) qv[u] = *reinterpret_cast<const uint4*>(qb + (row0 + r) * q_rstride + c);
        }
#pragma unroll
        for (int u = 0; u < 16 * VPR / 32; ++u) {
            const int i = lane + 32 * u;
            const int r = i / VPR, c = (i % VPR) * V;
            *reinterpret_cast<uint4*>(p + r * ATTN_LD + c) = qv[u];
        }
        __syncwarp();

        // scores = q k^T (16 x skp, f32, row stride lds)
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa[ATTN_D / 16];
#pragma unroll
        for (int kk = 0; kk < ATTN_D / 16; ++kk)
            wmma::load_matrix_sync(qa[kk], p + kk * 16, ATTN_LD);
        __syncwarp();  // q is in registers; its place takes the scores
        for (int j = 0; j < skp / 16; ++j) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < ATTN_D / 16; ++kk) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, ks + j * 16 * ATTN_LD + kk * 16, ATTN_LD);
                wmma::mma_sync(acc, qa[kk], kf, acc);
            }
            wmma::store_matrix_sync(sc + j * 16, acc, lds, wmma::mem_row_major);
        }
        __syncwarp();

        // Row softmax in f32; row r's probabilities (T, row stride 2 lds) overwrite the
        // first half of its own score row once the whole row is in registers.
        for (int r = 0; r < 16; ++r) {
            float vals[PER_LANE];
            float m = -INFINITY;
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) {
                const int c = lane + 32 * i;
                vals[i] = c < skv ? sc[r * lds + c] * scale : -INFINITY;
                m = fmaxf(m, vals[i]);
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) {
                vals[i] = lane + 32 * i < skv ? __expf(vals[i] - m) : 0.0f;
                s += vals[i];
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffff, s, o);
            const float inv = 1.0f / s;
            __syncwarp();
#pragma unroll
            for (int i = 0; i < PER_LANE; ++i) {
                const int c = lane + 32 * i;
                if (c < skp) p[r * 2 * lds + c] = from_f32<T>(vals[i] * inv);
            }
        }
        __syncwarp();

        // out tile = p v (16 x 64, f32 accumulators)
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> o[ATTN_D / 16];
#pragma unroll
        for (int d = 0; d < ATTN_D / 16; ++d) wmma::fill_fragment(o[d], 0.0f);
        for (int j = 0; j < skp / 16; ++j) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
            wmma::load_matrix_sync(pa, p + j * 16, 2 * lds);
#pragma unroll
            for (int d = 0; d < ATTN_D / 16; ++d) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
                wmma::load_matrix_sync(vf, vs + j * 16 * ATTN_LD + d * 16, ATTN_LD);
                wmma::mma_sync(o[d], pa, vf, o[d]);
            }
        }
        __syncwarp();
        // Stage through shared memory (the fragment layout is opaque), then store merged:
        // a lane writes 2 adjacent values of a row.
#pragma unroll
        for (int d = 0; d < ATTN_D / 16; ++d)
            wmma::store_matrix_sync(sc + d * 16, o[d], ATTN_OUT_LD, wmma::mem_row_major);
        __syncwarp();
        for (int r = 0; r < 16 && row0 + r < sq; ++r) {
            T* dst = out + ((int64_t)b * sq + row0 + r) * hidden + h * ATTN_D;
            for (int c = lane; c < ATTN_D; c += 32) dst[c] = from_f32<T>(sc[r * ATTN_OUT_LD + c]);
        }
        __syncwarp();  // the region is reused by the next tile
    }
}

#define ATTENTION(NAME, T)                                                                     \
    extern "C" __global__ void __launch_bounds__(32 * ATTN_WARPS)                            \
        NAME(const T* q, const T* k, const T* v, T* out, int sq, int skv, int heads,          \
             int64_t q_bstride, int64_t q_rstride, int64_t k_bstride, int64_t k_rstride,      \
             int64_t v_bstride, int64_t v_rstride, float scale) {                             \
        attention_d64<T>(q, k, v, out, sq, skv, heads, q_bstride, q_rstride, k_bstride,      \
                         k_rstride, v_bstride, v_rstride, scale);                              \
    }
ATTENTION(attention_d64_bf16, __nv_bfloat16)
ATTENTION(attention_d64_f16, __half)

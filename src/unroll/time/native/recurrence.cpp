// The time loops of the fused LSTM and fully recurrent paths on the CPU: forward and BPTT; and the
// forward loop of an echo state network's sparse, leaky reservoir.
//
// unroll/time/lstm_recurrence.py and rnn_recurrence.py are the specification; these loops compute
// the same values. Per step: one product with the recurrent weights (a register-blocked kernel of
// this file, no BLAS call), then one fused loop over (B, H) that reads and writes the output
// tensors in place. Absent options take neutral values (no peephole: zero weights; no mask: 1;
// no clip: infinity), which leave every result bit-for-bit as without them. With more than one
// ATen thread and a batch of at least kSplitBatch, each step's rows are split over the threads in
// blocks of kRows (no arithmetic crosses sequences, so results do not depend on the split).
//
// Shapes: T steps, B sequences, H units; LSTM gates 4H columns [write | keep | read | cell_input].
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

using at::Tensor;

// The OpenMP runtime's entry points (libgomp's ABI, which LLVM's libomp also exports), present
// when torch runs on OpenMP.
extern "C" {
void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags)
    __attribute__((weak));
int omp_get_thread_num() __attribute__((weak));
int omp_get_num_threads() __attribute__((weak));
}

namespace {

// ---------------------------------------------------------------------------------------------
// Activations in forms the compiler vectorises (always inlined: a call left in a loop stops that);
// float relative error below 2e-7, double 5e-16.
namespace fn {

// The bits of ``from`` read as a ``To``: std::bit_cast, which C++17 lacks (torch before 2.13 builds
// extensions as C++17); compilers turn the copy into a register move.
template <class To, class From>
[[gnu::always_inline]] inline To bits_as(From from) {
  static_assert(sizeof(To) == sizeof(From), "bits_as: sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

[[gnu::always_inline]] inline float exp(float x) {
  // e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln2 / 2; minimax degree 6, rel. error 2e-9.
  x = std::min(std::max(x, -87.3f), 88.3f);  // keeps 2^n e^r a normal float
  const float shifter = 12582912.0f;         // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + shifter;  // n in the low bits of t
  const float n = t - shifter;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln 2 split in two parts
  float p = 1.38296172e-3f;
  p = p * r + 8.37477562e-3f;
  p = p * r + 4.16683547e-2f;
  p = p * r + 1.66664208e-1f;
  p = p * r + 4.99999915e-1f;
  p = p * r + 1.00000004f;
  p = p * r + 1.0f;
  // add n to p's exponent (unsigned, so the shift's wrap-around is defined)
  return bits_as<float>(bits_as<uint32_t>(p) + (bits_as<uint32_t>(t) << 23));
}

[[gnu::always_inline]] inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

[[gnu::always_inline]] inline float tanh(float x) {
  // |x| < 0.625: x + x^3 P(x^2), minimax, rel. error 5e-9; beyond: 1 - 2 / (e^{2|x|} + 1).
  const float s = x * x;
  float p = -5.69230921e-3f;
  p = p * s + 2.06266171e-2f;
  p = p * s - 5.37354331e-2f;
  p = p * s + 1.33313830e-1f;
  p = p * s - 3.33332793e-1f;
  const float small = x + x * s * p;
  const float ax = std::fabs(x);
  const float large = 1.0f - 2.0f / (exp(2.0f * ax) + 1.0f);
  return ax < 0.625f ? small : std::copysign(large, x);
}

// e^x - 1 = 2^n (e^r - 1) + (2^n - 1), n = round(x / ln 2), |r| <= ln2 / 2, e^r - 1 by its Taylor
// series to r^14 (truncation below 1e-17): no cancellation near 0, where tanh needs it.
[[gnu::always_inline]] inline double expm1(double x) {
  x = std::min(std::max(x, -708.3), 709.0);  // keeps 2^n a normal double
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = x * 1.4426950408889634074 + shifter;  // n in the low bits of t
  const double n = t - shifter;
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 87178291200.0;  // 1/14!
  p = p * r + 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  const double scale = bits_as<double>(bits_as<uint64_t>(1.0) + (bits_as<uint64_t>(t) << 52));  // 2^n
  return scale * (p * r) + (scale - 1.0);
}

// Relative error below 5e-16 (2 ulp) for both.
[[gnu::always_inline]] inline double sigmoid(double x) { return 1.0 / (2.0 + expm1(-x)); }

[[gnu::always_inline]] inline double tanh(double x) {
  const double e = expm1(-2.0 * std::fabs(x));  // tanh|x| = -e / (2 + e)
  return std::copysign(-e / (2.0 + e), x);
}

}  // namespace fn

// Activation codes: indices into unroll.cells.activations.NAMES.
enum Kind : int32_t { kTanh = 0, kLogistic = 1, kLinear = 2, kRelu = 3 };

// f(a) for one activation kind; f(a) selected per unit by its code when kind is -1.
template <int kind, typename T>
[[gnu::always_inline]] inline T activate(T a, int32_t code) {
  if constexpr (kind == kTanh) return fn::tanh(a);
  if constexpr (kind == kLogistic) return fn::sigmoid(a);
  if constexpr (kind == kLinear) return a;
  if constexpr (kind == kRelu) return std::max(a, T(0));
  if constexpr (kind == -1) {
    const T t = fn::tanh(a), s = fn::sigmoid(a), r = std::max(a, T(0));
    return code == kTanh ? t : code == kLogistic ? s : code == kLinear ? a : r;
  }
}

// f'(a) expressed through y = f(a).
template <int kind, typename T>
[[gnu::always_inline]] inline T derivative(T y, int32_t code) {
  if constexpr (kind == kTanh) return 1 - y * y;
  if constexpr (kind == kLogistic) return y * (1 - y);
  if constexpr (kind == kLinear) return T(1);
  if constexpr (kind == kRelu) return y > 0 ? T(1) : T(0);
  if constexpr (kind == -1) {
    const T t = 1 - y * y, s = y * (1 - y), r = y > 0 ? T(1) : T(0);
    return code == kTanh ? t : code == kLogistic ? s : code == kLinear ? T(1) : r;
  }
}

// ---------------------------------------------------------------------------------------------
// Products with the recurrent weights: out (B, n) (+)= in (B, k) @ M (k, n), M = W^T or W.
//
// M is packed once per call into panels of kPanel columns, each (k, kPanel) contiguous and the
// last one zero padded; a micro-kernel holds a block of kRows x kPanel outputs in registers over
// the whole sum. On the AMD EPYC this was written on it runs 15-25% faster than MKL's sgemm at
// every batch size measured (1 to 256), without BLAS's per-call overhead at small batches.

// The target's widest vector as a GCC vector type, and how many rows fit the register file.
#ifdef __AVX512F__
constexpr int kVectorBytes = 64;
constexpr int kRows = 8;  // 16 accumulators of 32 registers
#else
constexpr int kVectorBytes = 32;
constexpr int kRows = 4;  // 8 accumulators of 16 registers
#endif
typedef float FloatVec __attribute__((vector_size(kVectorBytes)));
typedef double DoubleVec __attribute__((vector_size(kVectorBytes)));
template <typename T>
using Vec = std::conditional_t<std::is_same_v<T, float>, FloatVec, DoubleVec>;
template <typename T>
constexpr int64_t kLanes = kVectorBytes / sizeof(T);
constexpr int kPanelVectors = 2;
template <typename T>
constexpr int64_t kPanel = kPanelVectors * kLanes<T>;

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof v);
}

// out[R rows, cols columns] (+)= in[R rows, k] @ panel (k, kPanel); rows R apart by k in `in`
// and by n in `out`.
template <int R, typename T>
inline void micro_kernel(const T* in, const T* panel, T* out, int64_t k, int64_t n, int64_t cols,
                         bool accumulate) {
  constexpr int64_t L = kLanes<T>, P = kPanel<T>;
  Vec<T> acc[R][kPanelVectors] = {};
  for (int64_t p = 0; p < k; ++p) {
    Vec<T> w[kPanelVectors];
    for (int v = 0; v < kPanelVectors; ++v) w[v] = load(panel + p * P + v * L);
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < kPanelVectors; ++v) acc[r][v] += in[r * k + p] * w[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    T* y = out + r * n;
    if (cols == P) {
      for (int v = 0; v < kPanelVectors; ++v) {
        store(y + v * L, accumulate ? acc[r][v] + load(y + v * L) : acc[r][v]);
      }
    } else {
      T row[P];
      for (int v = 0; v < kPanelVectors; ++v) store(row + v * L, acc[r][v]);
      for (int64_t c = 0; c < cols; ++c) y[c] = accumulate ? y[c] + row[c] : row[c];
    }
  }
}

// micro_kernel for rows <= R rows, the number fixed at compile time.
template <int R, typename T>
inline void micro_kernel_rows(int64_t rows, const T* in, const T* panel, T* out, int64_t k,
                              int64_t n, int64_t cols, bool accumulate) {
  if constexpr (R > 1) {
    if (rows < R) return micro_kernel_rows<R - 1>(rows, in, panel, out, k, n, cols, accumulate);
  }
  micro_kernel<R>(in, panel, out, k, n, cols, accumulate);
}

// Packed weights up to this size count as near the core (in L2, or L3 at worst) for block_rows.
constexpr int64_t kNearBytes = 2 << 20;

// One product with W (R, C), the same at every step: out = in @ W^T (n = R, k = C) when
// transposed, in @ W (n = C, k = R) otherwise.
template <typename T>
class RecurrentProduct {
 public:
  RecurrentProduct(const Tensor& w, bool transposed)
      : n_(transposed ? w.size(0) : w.size(1)), k_(transposed ? w.size(1) : w.size(0)) {
    constexpr int64_t P = kPanel<T>;
    const int64_t panels = (n_ + P - 1) / P;
    const Tensor m = transposed ? w.t() : w;  // M (k, n)
    panels_ = at::constant_pad_nd(m, {0, panels * P - n_})
                  .contiguous()
                  .view({k_, panels, P})
                  .permute({1, 0, 2})
                  .contiguous();
  }

  // How many rows of a batch the forward takes at a time, each block's product followed by its
  // elementwise work while its rows are in cache: kRows while the packed weights stay near the
  // core (5-10% faster up to H = 256 float here, 1 MB of L2), else all at once, the product then
  // reusing each panel for all rows (25% faster at H = 1024). The backward gained nothing from
  // blocks.
  int64_t block_rows(int64_t batch) const {
    return panels_.nbytes() <= kNearBytes ? kRows : batch;
  }

  // out (B, n) = in (B, k) @ M, or += when accumulate.
  void operator()(const T* in, T* out, int64_t batch, bool accumulate) const {
    constexpr int64_t P = kPanel<T>;
    const T* panels = panels_.data_ptr<T>();
    for (int64_t j = 0; j * P < n_; ++j) {
      const T* panel = panels + j * k_ * P;
      const int64_t cols = std::min(P, n_ - j * P);
      for (int64_t b = 0; b < batch; b += kRows) {
        micro_kernel_rows<kRows>(std::min<int64_t>(kRows, batch - b), in + b * k_, panel,
                                 out + b * n_ + j * P, k_, n_, cols, accumulate);
      }
    }
  }

 private:
  int64_t n_, k_;
  Tensor panels_;  // (panels, k, kPanel)
};

// ---------------------------------------------------------------------------------------------
// Common to both nets.

// Batches from this size on split each step over the threads.
constexpr int64_t kSplitBatch = 16;

// Splits one step's rows [0, batch) over the threads: f(begin, end) on contiguous ranges whose
// bounds are multiples of kRows, so every row meets the same micro-kernel as in one call f(0, B).
// A single call f(0, batch) when not split. The split runs on torch's own OpenMP threads, through
// the runtime's entry point (what at::parallel_for compiles to with -fopenmp, which this file is
// built without); without an OpenMP runtime in the process the weak symbols stay null and every
// step runs on the calling thread.
class BatchSplit {
 public:
  explicit BatchSplit(int64_t batch) : batch_(batch) {
    const int64_t blocks = (batch + kRows - 1) / kRows;
    if (batch >= kSplitBatch && GOMP_parallel && omp_get_thread_num && omp_get_num_threads &&
        !at::in_parallel_region()) {
      threads_ = static_cast<unsigned>(std::min<int64_t>(at::get_num_threads(), blocks));
    }
  }

  template <typename F>
  [[gnu::always_inline]] inline void operator()(const F& f) const {
    if (threads_ < 2) return f(int64_t(0), batch_);
    Job<F> job{&f, batch_};
    GOMP_parallel(&Job<F>::run, &job, threads_, 0);
  }

 private:
  template <typename F>
  struct Job {
    const F* f;
    int64_t batch;
    static void run(void* p) {
      const Job& job = *static_cast<const Job*>(p);
      const int64_t blocks = (job.batch + kRows - 1) / kRows;
      const int64_t n = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t chunk = (blocks + n - 1) / n;
      const int64_t lo = std::min(blocks, id * chunk), hi = std::min(blocks, lo + chunk);
      if (lo < hi) (*job.f)(lo * kRows, std::min(hi * kRows, job.batch));
    }
  };

  int64_t batch_;
  unsigned threads_ = 1;
};

// Calls f with a zero of the C++ type of the tensors' dtype.
template <typename F>
void dispatch(at::ScalarType type, F&& f) {
  TORCH_CHECK(type == at::kFloat || type == at::kDouble,
              "unroll_native: expected float32 or float64 tensors, got ", type);
  if (type == at::kFloat) {
    f(0.0f);
  } else {
    f(0.0);
  }
}

// mask (T, B, 1) as a pointer to T*B values, or all ones when absent.
template <typename T>
const T* mask_values(const std::optional<Tensor>& mask, const Tensor& like, int64_t T_, int64_t B,
                     Tensor& holder) {
  holder = mask ? mask->to(like.scalar_type()).contiguous() : at::ones({T_, B}, like.options());
  TORCH_CHECK(holder.numel() == T_ * B, "unroll_native: mask must be (T, B, 1)");
  return holder.data_ptr<T>();
}

// ---------------------------------------------------------------------------------------------
// LSTM

// Peephole weights (3, H) and cell clip, neutral when absent.
template <typename T>
struct LstmOptions {
  const T *write, *keep, *read;  // peephole weights of each gate
  T clip;
};

// The options for a net of H units, the peephole weights held by holder (zeros when absent).
template <typename T>
LstmOptions<T> lstm_options(const std::optional<Tensor>& peephole, std::optional<double> cell_clip,
                            const Tensor& like, int64_t H, Tensor& holder) {
  holder = peephole ? peephole->to(like.scalar_type()).contiguous()
                    : at::zeros({3, H}, like.options());
  TORCH_CHECK(holder.numel() == 3 * H, "unroll_native: peephole must be (3, H)");
  const T* p = holder.data_ptr<T>();
  return {p, p + H, p + 2 * H, cell_clip ? T(*cell_clip) : std::numeric_limits<T>::infinity()};
}

// One sequence's step t: gate activations g (4H; in: h_{t-1} W_hh^T) from the input's part x
// (4H), then the new state h, c from the previous one, m the mask value.
template <typename T>
inline void lstm_forward_row(const T* x, T* g, const T* h_prev, const T* c_prev, T* h, T* c, T m,
                             const LstmOptions<T>& o, int64_t H) {
  const T *peep_write = o.write, *peep_keep = o.keep, *peep_read = o.read, clip = o.clip;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T write = fn::sigmoid(x[j] + g[j] + peep_write[j] * c_prev[j]);
    const T keep = fn::sigmoid(x[H + j] + g[H + j] + peep_keep[j] * c_prev[j]);
    const T cell_input = fn::tanh(x[3 * H + j] + g[3 * H + j]);
    const T c_new = std::min(std::max(keep * c_prev[j] + write * cell_input, -clip), clip);
    const T read = fn::sigmoid(x[2 * H + j] + g[2 * H + j] + peep_read[j] * c_new);
    const T h_new = read * fn::tanh(c_new);
    g[j] = write;
    g[H + j] = keep;
    g[2 * H + j] = read;
    g[3 * H + j] = cell_input;
    // padding (m = 0) carries the state through unchanged
    h[j] = m * h_new + (1 - m) * h_prev[j];
    c[j] = m * c_new + (1 - m) * c_prev[j];
  }
}

// One sequence's step t of BPTT: the deltas d (4H) at the gates' pre-activations from the saved
// gates g and c_{t-1}, the outer gradients grad_h, grad_c and dh, dc, the deltas at h_t, c_t from
// step t+1; dc becomes the delta at c_{t-1}, dh the part of the delta at h_{t-1} that does not
// go through W_hh.
template <typename T>
inline void lstm_backward_row(const T* g, const T* c_prev, const T* grad_h, const T* grad_c,
                              T* d, T* dh, T* dc, T m, const LstmOptions<T>& o, int64_t H) {
  const T *peep_write = o.write, *peep_keep = o.keep, *peep_read = o.read, clip = o.clip;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T write = g[j], keep = g[H + j], read = g[2 * H + j], cell_input = g[3 * H + j];
    // total deltas at the state of step t, split into the step's own part (m) and the part that
    // padding passes straight to step t-1 (1 - m)
    const T dh_total = dh[j] + grad_h[j], dc_total = dc[j] + grad_c[j];
    const T dh_own = m * dh_total;
    T dc_own = m * dc_total;
    const T c_raw = keep * c_prev[j] + write * cell_input;
    const bool clipped = std::fabs(c_raw) > clip;
    const T c_new = std::min(std::max(c_raw, -clip), clip);
    const T tanh_c = fn::tanh(c_new);
    // delta at the read gate's pre-activation: h = read * tanh(c)
    const T d_read = dh_own * tanh_c * read * (1 - read);
    // delta at the new cell: through tanh(c) into h, and through the read peephole
    dc_own = dc_own + dh_own * read * (1 - tanh_c * tanh_c);
    dc_own = dc_own + d_read * peep_read[j];
    dc_own = clipped ? T(0) : dc_own;
    // deltas at the write gate, keep gate and cell input: c = keep * c_prev + write * cell_input
    const T d_write = dc_own * cell_input * write * (1 - write);
    const T d_keep = dc_own * c_prev[j] * keep * (1 - keep);
    const T d_in = dc_own * write * (1 - cell_input * cell_input);
    d[j] = d_write;
    d[H + j] = d_keep;
    d[2 * H + j] = d_read;
    d[3 * H + j] = d_in;
    // deltas handed to step t-1: the cell's linear self-connection (the constant error
    // carousel), the peepholes and the padding carry
    dc[j] = dc_own * keep + d_write * peep_write[j] + d_keep * peep_keep[j] + (1 - m) * dc_total;
    dh[j] = (1 - m) * dh_total;
  }
}

std::tuple<Tensor, Tensor, Tensor> lstm_forward(const Tensor& xproj_in, const Tensor& h0_in,
                                                const Tensor& c0_in, const Tensor& w_hh_in,
                                                const std::optional<Tensor>& peephole,
                                                const std::optional<Tensor>& mask,
                                                std::optional<double> cell_clip) {
  const Tensor xproj = xproj_in.contiguous(), h0 = h0_in.contiguous(), c0 = c0_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous();
  const int64_t T_ = xproj.size(0), B = xproj.size(1), H = xproj.size(2) / 4;
  TORCH_CHECK(xproj.size(2) == 4 * H && w_hh.size(0) == 4 * H && w_hh.size(1) == H &&
                  h0.numel() == B * H && c0.numel() == B * H,
              "unroll_native.lstm_forward: inconsistent shapes");
  Tensor hs = at::empty({T_, B, H}, xproj.options());
  Tensor cs = at::empty({T_, B, H}, xproj.options());
  Tensor gates = at::empty({T_, B, 4 * H}, xproj.options());
  if (hs.numel() == 0) return {hs, cs, gates};
  dispatch(xproj.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const RecurrentProduct<T> recurrent(w_hh, /*transposed=*/true);
    const int64_t block = recurrent.block_rows(B);
    Tensor peep_t, mask_t;
    const LstmOptions<T> o = lstm_options<T>(peephole, cell_clip, xproj, H, peep_t);
    const T* mk = mask_values<T>(mask, xproj, T_, B, mask_t);
    const T* xp = xproj.data_ptr<T>();
    T* hp = hs.data_ptr<T>();
    T* cp = cs.data_ptr<T>();
    T* gp = gates.data_ptr<T>();
    const BatchSplit split(B);
    for (int64_t t = 0; t < T_; ++t) {
      const T* h_prev = t > 0 ? hp + (t - 1) * B * H : h0.data_ptr<T>();
      const T* c_prev = t > 0 ? cp + (t - 1) * B * H : c0.data_ptr<T>();
      split([&](int64_t begin, int64_t end) {
        for (int64_t b0 = begin; b0 < end; b0 += block) {
          const int64_t rows = std::min(block, end - b0);
          T* g = gp + (t * B + b0) * 4 * H;
          recurrent(h_prev + b0 * H, g, rows, false);  // h_{t-1} W_hh^T, the recurrent input
          for (int64_t b = b0; b < b0 + rows; ++b) {
            const int64_t tb = t * B + b;
            lstm_forward_row(xp + tb * 4 * H, gp + tb * 4 * H, h_prev + b * H, c_prev + b * H,
                             hp + tb * H, cp + tb * H, mk[tb], o, H);
          }
        }
      });
    }
  });
  return {hs, cs, gates};
}

// h0 and hs are not needed (the signature is the torch version's).
std::tuple<Tensor, Tensor, Tensor> lstm_backward(
    const Tensor& grad_hs_in, const Tensor& grad_cs_in, const Tensor& /*h0*/, const Tensor& c0_in,
    const Tensor& /*hs*/, const Tensor& cs_in, const Tensor& gates_in, const Tensor& w_hh_in,
    const std::optional<Tensor>& peephole, const std::optional<Tensor>& mask,
    std::optional<double> cell_clip) {
  const Tensor grad_hs = grad_hs_in.contiguous(), grad_cs = grad_cs_in.contiguous();
  const Tensor c0 = c0_in.contiguous(), cs = cs_in.contiguous(), gates = gates_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous();
  const int64_t T_ = gates.size(0), B = gates.size(1), H = gates.size(2) / 4;
  TORCH_CHECK(grad_hs.numel() == T_ * B * H && grad_cs.numel() == T_ * B * H &&
                  cs.numel() == T_ * B * H && c0.numel() == B * H && w_hh.size(0) == 4 * H &&
                  w_hh.size(1) == H,
              "unroll_native.lstm_backward: inconsistent shapes");
  Tensor d_preact = at::empty_like(gates);
  Tensor dh = at::zeros({B, H}, gates.options());  // dL/dh_t through the recurrence from t+1
  Tensor dc = at::zeros({B, H}, gates.options());  // dL/dc_t through the recurrence from t+1
  if (d_preact.numel() == 0) return {d_preact, dh, dc};
  dispatch(gates.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const RecurrentProduct<T> recurrent(w_hh, /*transposed=*/false);
    Tensor peep_t, mask_t;
    const LstmOptions<T> o = lstm_options<T>(peephole, cell_clip, gates, H, peep_t);
    const T* mk = mask_values<T>(mask, gates, T_, B, mask_t);
    const T* ghp = grad_hs.data_ptr<T>();
    const T* gcp = grad_cs.data_ptr<T>();
    const T* csp = cs.data_ptr<T>();
    const T* gp = gates.data_ptr<T>();
    T* dp = d_preact.data_ptr<T>();
    T* dhp = dh.data_ptr<T>();
    T* dcp = dc.data_ptr<T>();
    const BatchSplit split(B);
    for (int64_t t = T_ - 1; t >= 0; --t) {
      const T* c_prev = t > 0 ? csp + (t - 1) * B * H : c0.data_ptr<T>();
      split([&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const int64_t tb = t * B + b;
          lstm_backward_row(gp + tb * 4 * H, c_prev + b * H, ghp + tb * H, gcp + tb * H,
                            dp + tb * 4 * H, dhp + b * H, dcp + b * H, mk[tb], o, H);
        }
        // dL/dh_{t-1} += d_preact[t] W_hh, row by row
        recurrent(dp + (t * B + begin) * 4 * H, dhp + begin * H, end - begin, true);
      });
    }
  });
  return {d_preact, dh, dc};
}

// ---------------------------------------------------------------------------------------------
// Fully recurrent net

// The kind shared by all units, or -1 when they differ.
int uniform_kind(const std::vector<int32_t>& codes) {
  for (int32_t c : codes) TORCH_CHECK(c >= 0 && c <= kRelu, "unroll_native: bad activation code");
  const bool same =
      std::all_of(codes.begin(), codes.end(), [&](int32_t c) { return c == codes[0]; });
  return same ? codes[0] : -1;
}

std::vector<int32_t> codes_of(const Tensor& activation_codes) {
  const Tensor c = activation_codes.to(at::kInt).contiguous();
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

// Calls f with the unit kind as a compile-time constant (-1: mixed).
template <typename F>
void with_kind(int kind, F&& f) {
  switch (kind) {
    case kTanh: f(std::integral_constant<int, kTanh>{}); break;
    case kLogistic: f(std::integral_constant<int, kLogistic>{}); break;
    case kLinear: f(std::integral_constant<int, kLinear>{}); break;
    case kRelu: f(std::integral_constant<int, kRelu>{}); break;
    default: f(std::integral_constant<int, -1>{});
  }
}

Tensor rnn_forward(const Tensor& xproj_in, const Tensor& h0_in, const Tensor& w_hh_in,
                   const Tensor& activation_codes, const std::optional<Tensor>& mask) {
  const Tensor xproj = xproj_in.contiguous(), h0 = h0_in.contiguous(), w_hh = w_hh_in.contiguous();
  const int64_t T_ = xproj.size(0), B = xproj.size(1), N = xproj.size(2);
  const std::vector<int32_t> codes = codes_of(activation_codes);
  TORCH_CHECK(w_hh.size(0) == N && w_hh.size(1) == N && h0.numel() == B * N &&
                  static_cast<int64_t>(codes.size()) == N,
              "unroll_native.rnn_forward: inconsistent shapes");
  Tensor hs = at::empty_like(xproj);
  if (hs.numel() == 0) return hs;
  dispatch(xproj.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const RecurrentProduct<T> recurrent(w_hh, /*transposed=*/true);
    const int64_t block = recurrent.block_rows(B);
    Tensor mask_t;
    const T* mk = mask_values<T>(mask, xproj, T_, B, mask_t);
    const T* xp = xproj.data_ptr<T>();
    T* hp = hs.data_ptr<T>();
    const int32_t* code = codes.data();
    const BatchSplit split(B);
    with_kind(uniform_kind(codes), [&](auto kind) {
      for (int64_t t = 0; t < T_; ++t) {
        const T* h_prev = t > 0 ? hp + (t - 1) * B * N : h0.data_ptr<T>();
        split([&](int64_t begin, int64_t end) {
          for (int64_t b0 = begin; b0 < end; b0 += block) {
            const int64_t rows = std::min(block, end - b0);
            // h_{t-1} W_hh^T, the recurrent input, into h_t
            recurrent(h_prev + b0 * N, hp + (t * B + b0) * N, rows, false);
            for (int64_t b = b0; b < b0 + rows; ++b) {
              const T m = mk[t * B + b];
              const T* x = xp + (t * B + b) * N;
              const T* hb_prev = h_prev + b * N;
              T* h = hp + (t * B + b) * N;
#pragma omp simd
              for (int64_t j = 0; j < N; ++j) {
                const T y = activate<decltype(kind)::value>(x[j] + h[j], code[j]);
                h[j] = m * y + (1 - m) * hb_prev[j];  // padding carries the state unchanged
              }
            }
          }
        });
      }
    });
  });
  return hs;
}

// h0 is not needed (the signature is the torch version's).
std::tuple<Tensor, Tensor> rnn_backward(const Tensor& grad_hs_in, const Tensor& /*h0*/,
                                        const Tensor& hs_in, const Tensor& w_hh_in,
                                        const Tensor& activation_codes,
                                        const std::optional<Tensor>& mask) {
  const Tensor grad_hs = grad_hs_in.contiguous(), hs = hs_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous();
  const int64_t T_ = hs.size(0), B = hs.size(1), N = hs.size(2);
  const std::vector<int32_t> codes = codes_of(activation_codes);
  TORCH_CHECK(grad_hs.numel() == T_ * B * N && w_hh.size(0) == N && w_hh.size(1) == N &&
                  static_cast<int64_t>(codes.size()) == N,
              "unroll_native.rnn_backward: inconsistent shapes");
  Tensor d_preact = at::empty_like(hs);
  Tensor dh = at::zeros({B, N}, hs.options());  // dL/dh_t through the recurrence from t+1
  if (d_preact.numel() == 0) return {d_preact, dh};
  dispatch(hs.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const RecurrentProduct<T> recurrent(w_hh, /*transposed=*/false);
    Tensor mask_t;
    const T* mk = mask_values<T>(mask, hs, T_, B, mask_t);
    const T* ghp = grad_hs.data_ptr<T>();
    const T* hsp = hs.data_ptr<T>();
    T* dp = d_preact.data_ptr<T>();
    T* dhp = dh.data_ptr<T>();
    const int32_t* code = codes.data();
    const BatchSplit split(B);
    with_kind(uniform_kind(codes), [&](auto kind) {
      for (int64_t t = T_ - 1; t >= 0; --t) {
        split([&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            const T m = mk[t * B + b];
            const T* y = hsp + (t * B + b) * N;
            const T* grad_h = ghp + (t * B + b) * N;
            T* d = dp + (t * B + b) * N;
            T* dh_b = dhp + b * N;
#pragma omp simd
            for (int64_t j = 0; j < N; ++j) {
              const T dh_total = dh_b[j] + grad_h[j];
              // delta at the units' pre-activations; padding passes dh on to step t-1
              d[j] = dh_total * (derivative<decltype(kind)::value>(y[j], code[j]) * m);
              dh_b[j] = dh_total * (1 - m);
            }
          }
          // dL/dh_{t-1} += d_preact[t] W_hh, row by row
          recurrent(dp + (t * B + begin) * N, dhp + begin * N, end - begin, true);
        });
      }
    });
  });
  return {d_preact, dh};
}

// ---------------------------------------------------------------------------------------------
// Echo state network reservoir: x_t = x_{t-1} + a (tanh(drive_t + W x_{t-1}) - x_{t-1}), W sparse
// (CSR: row_start (N+1,), column (nnz,), value (nnz,)), a the leak per unit; with every a = 1 the
// step is x_t = tanh(...) exactly. unroll/reservoir/reservoir.py's numpy loop is the specification.
// Writes the states over drive (T, B, N), in place: the caller's drive is its own fresh tensor.

// x += W prev for one sequence, summed in CSR order like scipy's. Rows hold a few weights each:
// vectorised, their sums are masked gathers that run 1.6x slower than these scalar ones.
template <typename T>
[[gnu::optimize("no-tree-vectorize")]] void add_sparse_product(
    T* x, const T* prev, const int64_t* row_start, const int64_t* column, const T* value, int64_t N) {
  for (int64_t i = 0; i < N; ++i) {
    T sum = 0;
    for (int64_t k = row_start[i]; k < row_start[i + 1]; ++k) sum += value[k] * prev[column[k]];
    x[i] += sum;
  }
}

template <bool leaky, typename T>
void reservoir_steps(T* xp, const T* x0, const int64_t* row_start, const int64_t* column,
                     const T* value, const T* leak, int64_t T_, int64_t B, int64_t N) {
  for (int64_t t = 0; t < T_; ++t) {
    const T* x_prev = t > 0 ? xp + (t - 1) * B * N : x0;
    for (int64_t b = 0; b < B; ++b) {
      const T* prev = x_prev + b * N;
      T* x = xp + (t * B + b) * N;
      add_sparse_product(x, prev, row_start, column, value, N);
#pragma omp simd
      for (int64_t i = 0; i < N; ++i) {
        const T y = fn::tanh(x[i]);
        if constexpr (leaky) {
          x[i] = (y - prev[i]) * leak[i] + prev[i];
        } else {
          x[i] = y;
        }
      }
    }
  }
}

void reservoir_forward(const Tensor& drive, const Tensor& x0_in, const Tensor& row_start_in,
                       const Tensor& column_in, const Tensor& value_in, const Tensor& leak_in) {
  TORCH_CHECK(drive.is_contiguous(), "unroll_native.reservoir_forward: drive must be contiguous");
  const Tensor x0 = x0_in.contiguous(), value = value_in.contiguous(), leak = leak_in.contiguous();
  const Tensor row_start = row_start_in.to(at::kLong).contiguous();
  const Tensor column = column_in.to(at::kLong).contiguous();
  const int64_t T_ = drive.size(0), B = drive.size(1), N = drive.size(2);
  TORCH_CHECK(x0.numel() == B * N && row_start.numel() == N + 1 && leak.numel() == N &&
                  column.numel() == value.numel() && x0.scalar_type() == drive.scalar_type() &&
                  value.scalar_type() == drive.scalar_type() && leak.scalar_type() == drive.scalar_type(),
              "unroll_native.reservoir_forward: inconsistent shapes or dtypes");
  TORCH_CHECK(row_start.data_ptr<int64_t>()[N] == column.numel() &&
                  (column.numel() == 0 || (column.min().item<int64_t>() >= 0 &&
                                           column.max().item<int64_t>() < N)),
              "unroll_native.reservoir_forward: malformed CSR matrix");
  if (drive.numel() == 0) return;
  dispatch(drive.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const T* a = leak.data_ptr<T>();
    const bool leaky = std::any_of(a, a + N, [](T v) { return v != T(1); });
    auto run = leaky ? reservoir_steps<true, T> : reservoir_steps<false, T>;
    run(drive.data_ptr<T>(), x0.data_ptr<T>(), row_start.data_ptr<int64_t>(),
        column.data_ptr<int64_t>(), value.data_ptr<T>(), a, T_, B, N);
  });
}

// ---------------------------------------------------------------------------------------------
// The 1997 LSTM: memory blocks of k cells sharing a write and a read gate, no keep gate. Only the
// forward loop: its truncated gradient needs no loop, and the full one runs in torch.

// One sequence's step t from the input's part x (U) and the recurrent input r (U, s_{t-1} W_hh^T):
// the new sources s (U: N cell outputs, the blocks' write gates, their read gates), cells c and
// cell inputs g (N) from the previous s_prev, c_prev; m the mask value.
template <typename T>
inline void memory_blocks_forward_row(const T* x, const T* r, const T* s_prev, const T* c_prev,
                                      T* s, T* c, T* g, T m, int64_t blocks, int64_t k) {
  const int64_t N = blocks * k;
  for (int64_t b = 0; b < blocks; ++b) {
    const T write = fn::sigmoid(x[N + b] + r[N + b]);
    const T read = fn::sigmoid(x[N + blocks + b] + r[N + blocks + b]);
    for (int64_t j = b * k; j < (b + 1) * k; ++j) {
      g[j] = 4 * fn::sigmoid(x[j] + r[j]) - 2;
      const T c_new = c_prev[j] + write * g[j];
      // padding (m = 0) carries the state through unchanged
      s[j] = m * read * fn::tanh(c_new / 2) + (1 - m) * s_prev[j];  // read (2 sigmoid(c) - 1)
      c[j] = m * c_new + (1 - m) * c_prev[j];
    }
    s[N + b] = m * write + (1 - m) * s_prev[N + b];
    s[N + blocks + b] = m * read + (1 - m) * s_prev[N + blocks + b];
  }
}

// The 1997 nets are small (tens of units, often one sequence at a time): no batch split.
std::tuple<Tensor, Tensor, Tensor> memory_blocks_forward(const Tensor& xproj_in, const Tensor& s0_in,
                                                         const Tensor& c0_in, const Tensor& w_hh_in,
                                                         int64_t k, const std::optional<Tensor>& mask) {
  const Tensor xproj = xproj_in.contiguous(), s0 = s0_in.contiguous(), c0 = c0_in.contiguous();
  const Tensor w_hh = w_hh_in.contiguous();
  const int64_t T_ = xproj.size(0), B = xproj.size(1), U = xproj.size(2), N = c0.size(-1);
  const int64_t blocks = (U - N) / 2;
  TORCH_CHECK(k > 0 && N == blocks * k && U == N + 2 * blocks && w_hh.size(0) == U &&
                  w_hh.size(1) == U && s0.numel() == B * U && c0.numel() == B * N,
              "unroll_native.memory_blocks_forward: inconsistent shapes");
  Tensor ss = at::empty({T_, B, U}, xproj.options());
  Tensor cs = at::empty({T_, B, N}, xproj.options());
  Tensor gs = at::empty({T_, B, N}, xproj.options());
  if (ss.numel() == 0) return {ss, cs, gs};
  Tensor recurrent_input = at::empty({B, U}, xproj.options());
  dispatch(xproj.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    const RecurrentProduct<T> recurrent(w_hh, /*transposed=*/true);
    Tensor mask_t;
    const T* mk = mask_values<T>(mask, xproj, T_, B, mask_t);
    const T* xp = xproj.data_ptr<T>();
    T* sp = ss.data_ptr<T>();
    T* cp = cs.data_ptr<T>();
    T* gp = gs.data_ptr<T>();
    T* rp = recurrent_input.data_ptr<T>();
    for (int64_t t = 0; t < T_; ++t) {
      const T* s_prev = t > 0 ? sp + (t - 1) * B * U : s0.data_ptr<T>();
      const T* c_prev = t > 0 ? cp + (t - 1) * B * N : c0.data_ptr<T>();
      recurrent(s_prev, rp, B, false);  // s_{t-1} W_hh^T
      for (int64_t b = 0; b < B; ++b) {
        const int64_t tb = t * B + b;
        memory_blocks_forward_row(xp + tb * U, rp + b * U, s_prev + b * U, c_prev + b * N, sp + tb * U,
                                  cp + tb * N, gp + tb * N, mk[tb], blocks, k);
      }
    }
  });
  return {ss, cs, gs};
}

}  // namespace

TORCH_LIBRARY(unroll_native, m) {
  m.def("lstm_forward(Tensor xproj, Tensor h0, Tensor c0, Tensor w_hh, Tensor? peephole, "
        "Tensor? mask, float? cell_clip) -> (Tensor, Tensor, Tensor)",
        &lstm_forward);
  m.def("lstm_backward(Tensor grad_hs, Tensor grad_cs, Tensor h0, Tensor c0, Tensor hs, "
        "Tensor cs, Tensor gates, Tensor w_hh, Tensor? peephole, Tensor? mask, "
        "float? cell_clip) -> (Tensor, Tensor, Tensor)",
        &lstm_backward);
  m.def("rnn_forward(Tensor xproj, Tensor h0, Tensor w_hh, Tensor activation_codes, "
        "Tensor? mask) -> Tensor",
        &rnn_forward);
  m.def("rnn_backward(Tensor grad_hs, Tensor h0, Tensor hs, Tensor w_hh, "
        "Tensor activation_codes, Tensor? mask) -> (Tensor, Tensor)",
        &rnn_backward);
  m.def("memory_blocks_forward(Tensor xproj, Tensor s0, Tensor c0, Tensor w_hh, int cells_per_block, "
        "Tensor? mask) -> (Tensor, Tensor, Tensor)",
        &memory_blocks_forward);
  m.def("reservoir_forward(Tensor(a!) drive, Tensor x0, Tensor row_start, Tensor column, "
        "Tensor value, Tensor leak) -> ()",
        &reservoir_forward);
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): a table-driven portable path and, on x86 CPUs with
// SSE4.2, the crc32 instruction over three interleaved streams; both give the same values (tested).
#include "io/crc32c.hpp"

#include <array>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define TOOLGRPO_CRC32C_X86 1
#endif

namespace toolgrpo::io {
namespace {

constexpr uint32_t kCrcPoly = 0x82F63B78u;  // Castagnoli, reflected

struct CrcTables {
  uint32_t slice[8][256];  // slicing-by-8 tables for the portable path
};

const CrcTables& crc_tables() {
  static const CrcTables t = [] {
    CrcTables c{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t r = n;
      for (int k = 0; k < 8; ++k) r = (r >> 1) ^ (kCrcPoly & (0u - (r & 1u)));
      c.slice[0][n] = r;
    }
    for (uint32_t n = 0; n < 256; ++n)
      for (int k = 1; k < 8; ++k)
        c.slice[k][n] = (c.slice[k - 1][n] >> 8) ^ c.slice[0][c.slice[k - 1][n] & 0xff];
    return c;
  }();
  return t;
}

uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The CRC register (no pre/post inversion) after `n` bytes at `p`, from `crc`.
uint32_t crc_raw_portable(uint32_t crc, const unsigned char* p, std::size_t n) {
  const auto& t = crc_tables().slice;
  for (; n >= 8; n -= 8, p += 8) {
    const uint64_t w = load_le64(p) ^ crc;
    const uint32_t lo = static_cast<uint32_t>(w), hi = static_cast<uint32_t>(w >> 32);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
  return crc;
}

#ifdef TOOLGRPO_CRC32C_X86
// The hardware path runs three independent CRC streams over consecutive blocks of kStream bytes (the crc32
// instruction has a latency of three cycles and a throughput of one) and joins them: for the raw register,
// crc(A || B) = shift_|B|(crc(A)) ^ crc_from_0(B), where shift_n multiplies by x^(8n) modulo the polynomial:
// a linear map of the 32 register bits, tabulated per byte of the register.
constexpr std::size_t kStream = 4096;

struct ShiftTable {
  uint32_t t[4][256];
  uint32_t operator()(uint32_t x) const {
    return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
  }
};

const ShiftTable& shift_table() {
  static const ShiftTable s = [] {
    ShiftTable st{};
    uint32_t basis[32];
    const std::vector<unsigned char> zeros(kStream, 0);
    for (int b = 0; b < 32; ++b) basis[b] = crc_raw_portable(1u << b, zeros.data(), zeros.size());
    for (int k = 0; k < 4; ++k)
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t r = 0;
        for (int j = 0; j < 8; ++j)
          if (v & (1u << j)) r ^= basis[8 * k + j];
        st.t[k][v] = r;
      }
    return st;
  }();
  return s;
}

__attribute__((target("sse4.2"))) uint32_t crc_raw_hardware(uint32_t crc, const unsigned char* p,
                                                            std::size_t n) {
  if (n >= 3 * kStream) {
    const ShiftTable& shift = shift_table();
    do {
      uint64_t c0 = crc, c1 = 0, c2 = 0;
      for (std::size_t i = 0; i < kStream; i += 8) {
        uint64_t w0, w1, w2;
        std::memcpy(&w0, p + i, 8);
        std::memcpy(&w1, p + kStream + i, 8);
        std::memcpy(&w2, p + 2 * kStream + i, 8);
        c0 = _mm_crc32_u64(c0, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
      }
      crc = shift(shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
      p += 3 * kStream;
      n -= 3 * kStream;
    } while (n >= 3 * kStream);
  }
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  crc = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) crc = _mm_crc32_u8(crc, *p);
  return crc;
}
#endif

bool cpu_has_crc32c() {
#ifdef TOOLGRPO_CRC32C_X86
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace

uint32_t crc32c(const void* data, std::size_t bytes, uint32_t crc) {
#ifdef TOOLGRPO_CRC32C_X86
  if (cpu_has_crc32c()) return ~crc_raw_hardware(~crc, static_cast<const unsigned char*>(data), bytes);
#endif
  return ~crc_raw_portable(~crc, static_cast<const unsigned char*>(data), bytes);
}

namespace detail {
uint32_t crc32c_portable(const void* data, std::size_t bytes, uint32_t crc) {
  return ~crc_raw_portable(~crc, static_cast<const unsigned char*>(data), bytes);
}
bool crc32c_hardware_available() {
  return cpu_has_crc32c();
}
uint32_t crc32c_hardware(const void* data, std::size_t bytes, uint32_t crc) {
#ifdef TOOLGRPO_CRC32C_X86
  if (cpu_has_crc32c()) return ~crc_raw_hardware(~crc, static_cast<const unsigned char*>(data), bytes);
#endif
  throw std::logic_error("crc32c_hardware: this CPU or build has no CRC-32C instruction");
}
}  // namespace detail

// Combining: appending n zero bytes to a message multiplies its CRC register by x^(8n) modulo the polynomial
// (GF(2), bit-reflected), and the CRC is linear in the message, so crc(A||B) = crc(A) * x^(8|B|) + crc(B).
namespace {

// a * b modulo the polynomial, both bit-reflected (bit 31 is x^0).
uint32_t gf2_multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ kCrcPoly : b >> 1;
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial, by squaring: powers[k] = x^(2^k).
uint32_t x_power_of_bytes(uint64_t bytes) {
  static const std::array<uint32_t, 67> powers = [] {
    std::array<uint32_t, 67> p{};  // k up to 3 + 63: every bit of a 64-bit byte count
    p[0] = 1u << 30;               // x^1
    for (std::size_t k = 1; k < p.size(); ++k) p[k] = gf2_multiply(p[k - 1], p[k - 1]);
    return p;
  }();
  uint32_t result = 1u << 31;                            // x^0
  for (std::size_t k = 3; bytes != 0; bytes >>= 1, ++k)  // 8 * bytes = bytes << 3
    if (bytes & 1u) result = gf2_multiply(powers[k], result);
  return result;
}

}  // namespace

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t bytes_b) {
  return gf2_multiply(x_power_of_bytes(bytes_b), crc_a) ^ crc_b;
}

}  // namespace toolgrpo::io

// CRC-32C (Castagnoli): the checksum of checkpoint tensors, metadata and files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace toolgrpo::io {

// CRC-32C of `bytes`, continuing from `crc` (0 to start); hardware instructions where the CPU has them.
uint32_t crc32c(const void* data, std::size_t bytes, uint32_t crc = 0);

// The CRC-32C of A followed by B from crc32c(A), crc32c(B) and B's length in bytes: checksums of pieces
// computed apart (on several ranks) fold into the checksum of the whole in O(log bytes) steps.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t bytes_b);

namespace detail {
// Both CRC-32C paths, for the parity test (crc32c picks one).
uint32_t crc32c_portable(const void* data, std::size_t bytes, uint32_t crc = 0);
bool crc32c_hardware_available();
// The SSE4.2 path; throws std::logic_error where crc32c_hardware_available() is false.
uint32_t crc32c_hardware(const void* data, std::size_t bytes, uint32_t crc = 0);
}  // namespace detail

}  // namespace toolgrpo::io

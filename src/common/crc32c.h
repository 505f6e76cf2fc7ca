// CRC-32C (Castagnoli), the checksum of Kafka record batches (v2) and of
// fjord's own files. Uses the SSE4.2 instruction, on three lanes at once,
// when the CPU has it.
#pragma once

#include <cstdint>
#include <string_view>

namespace fjord {

// Extends `crc` (0 for a fresh checksum) over `bytes`.
uint32_t crc32c(std::string_view bytes, uint32_t crc = 0);
// The same with table lookups only (slice-by-8): what CPUs without SSE4.2
// run, and the reference the fast path is tested against.
uint32_t crc32c_portable(std::string_view bytes, uint32_t crc = 0);

}  // namespace fjord

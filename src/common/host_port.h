// "host:port" addresses, as the settings give them. Callers split addresses
// that cluster::validate() (or an equivalent check) has already accepted.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace fjord {

// Splits at the last ':' ("[::1]:9092" keeps its brackets in the host).
inline std::pair<std::string, uint16_t> split_host_port(const std::string& address) {
    size_t colon = address.rfind(':');
    return {address.substr(0, colon), static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))};
}

}  // namespace fjord

// Immutable bytes shared by reference count. A record batch travels through
// the log, the storage, the messages to every follower and the state machine;
// sharing it means it is copied only when it is written out, not at each hop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace fjord {

class Payload {
  public:
    Payload() = default;
    Payload(std::string bytes)  // NOLINT(google-explicit-constructor): a payload is its bytes
        : _bytes(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}

    std::string_view view() const { return _bytes ? std::string_view(*_bytes) : std::string_view(); }
    operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
    size_t size() const { return _bytes ? _bytes->size() : 0; }
    bool empty() const { return size() == 0; }

    bool operator==(const Payload& other) const { return view() == other.view(); }
    friend bool operator==(const Payload& p, std::string_view s) { return p.view() == s; }

  private:
    std::shared_ptr<const std::string> _bytes;
};

}  // namespace fjord

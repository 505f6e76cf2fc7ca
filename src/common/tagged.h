// Strong integer types: a Term cannot be passed where an Index is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace fjord {

template <typename Tag, typename Rep = uint64_t>
struct Tagged {
    Rep value{};

    constexpr Tagged() = default;
    constexpr explicit Tagged(Rep v) : value(v) {}

    constexpr auto operator<=>(const Tagged&) const = default;
};

}  // namespace fjord

template <typename Tag, typename Rep>
struct std::hash<fjord::Tagged<Tag, Rep>> {
    size_t operator()(const fjord::Tagged<Tag, Rep>& t) const noexcept { return std::hash<Rep>{}(t.value); }
};

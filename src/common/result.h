// A value-or-error type for hot paths, where exceptions are not used.
// C++20 has no std::expected; this is the small subset fjord needs.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace fjord {

// The value of a Result that carries no value.
struct Ok {};

template <typename E>
struct Unexpected {
    E error;
};

template <typename E>
Unexpected<E> make_unexpected(E e) {
    return Unexpected<E>{std::move(e)};
}

template <typename T, typename E>
class Result {
  public:
    Result(T value) : _v(std::in_place_index<0>, std::move(value)) {}
    Result(Unexpected<E> u) : _v(std::in_place_index<1>, std::move(u.error)) {}

    bool has_value() const { return _v.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() {
        assert(has_value());
        return std::get<0>(_v);
    }
    const T& value() const {
        assert(has_value());
        return std::get<0>(_v);
    }
    const E& error() const {
        assert(!has_value());
        return std::get<1>(_v);
    }
    T* operator->() { return &value(); }
    T& operator*() { return value(); }

  private:
    std::variant<T, E> _v;
};

}  // namespace fjord

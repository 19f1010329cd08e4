#pragma once
// Error values shared by every kedge library: an error_code (machine-readable class) plus a
// human-readable detail (what a user or an operator needs to fix it).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <system_error>
#include <utility>

namespace kedge {

// General error classes. Domains with richer needs add their own enum + category.
enum class errc {
    ok = 0,
    invalid_argument,   // caller passed something malformed
    parse_error,        // bytes are not what the format says
    not_found,
    already_exists,
    conflict,           // optimistic concurrency / version mismatch
    queue_full,         // a bounded queue refused the item (back-pressure)
    timeout,
    unauthorized,       // no or bad credentials
    forbidden,          // credentials fine, action not allowed
    too_large,          // size limit exceeded
    unavailable,        // peer or dependency is not there right now
    closed,             // the object was stopped / connection closed
    expired,            // token or certificate out of its validity window
    crypto_error,       // OpenSSL said no
    io_error,
    internal,
};

const boost::system::error_category& kedge_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), kedge_category()};
}

// An error with its class and a sentence that says what went wrong.
struct Error {
    boost::system::error_code code;
    std::string detail;

    Error() = default;
    Error(boost::system::error_code c, std::string d = {}) : code(c), detail(std::move(d)) {}
    Error(errc e, std::string d = {}) : code(make_error_code(e)), detail(std::move(d)) {}

    bool is(errc e) const noexcept { return code == make_error_code(e); }
    // "detail (category: message)" or just the code's message when there is no detail.
    std::string message() const;
};

// Thrown by Result<T>::value() on an error: carries the Error.
class ErrorException : public std::runtime_error {
public:
    explicit ErrorException(Error e) : std::runtime_error(e.message()), error_(std::move(e)) {}
    const Error& error() const noexcept { return error_; }

private:
    Error error_;
};

[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace kedge

template <>
struct boost::system::is_error_code_enum<kedge::errc> : std::true_type {};

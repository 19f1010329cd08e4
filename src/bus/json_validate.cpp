#include "bus/json_validate.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <string>

namespace kedge::bus {
namespace {

// Accepts every event: basic_parser alone checks the grammar and allocates nothing.
struct NullHandler {
    using ec_t = boost::json::error_code;
    using sv_t = boost::json::string_view;
    static constexpr std::size_t max_array_size = -1;
    static constexpr std::size_t max_object_size = -1;
    static constexpr std::size_t max_string_size = -1;
    static constexpr std::size_t max_key_size = -1;
    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_array_begin(ec_t&) { return true; }
    bool on_array_end(std::size_t, ec_t&) { return true; }
    bool on_object_begin(ec_t&) { return true; }
    bool on_object_end(std::size_t, ec_t&) { return true; }
    bool on_string_part(sv_t, std::size_t, ec_t&) { return true; }
    bool on_string(sv_t, std::size_t, ec_t&) { return true; }
    bool on_key_part(sv_t, std::size_t, ec_t&) { return true; }
    bool on_key(sv_t, std::size_t, ec_t&) { return true; }
    bool on_number_part(sv_t, ec_t&) { return true; }
    bool on_int64(std::int64_t, sv_t, ec_t&) { return true; }
    bool on_uint64(std::uint64_t, sv_t, ec_t&) { return true; }
    bool on_double(double, sv_t, ec_t&) { return true; }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(sv_t, ec_t&) { return true; }
    bool on_comment(sv_t, ec_t&) { return true; }
};

}  // namespace

Result<void> validate_json(std::string_view text, int max_depth) {
    boost::json::parse_options opts;
    opts.max_depth = static_cast<std::size_t>(max_depth);
    boost::json::basic_parser<NullHandler> parser(opts);
    boost::json::error_code ec;
    std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && n < text.size()) ec = boost::json::error::extra_data;
    if (ec) {
        return Error(errc::parse_error, "invalid JSON at byte " + std::to_string(n) + " of " +
                                            std::to_string(text.size()) + ": " + ec.message());
    }
    return {};
}

}  // namespace kedge::bus

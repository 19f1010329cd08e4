#include "apiserver/auth/authenticator.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "base/log.hpp"

namespace kedge::apiserver::auth {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// One CSV record of one line (RFC 4180 quoting, no multi-line fields); the error says why.
Result<std::vector<std::string>> split_csv_line(std::string_view line) {
    std::vector<std::string> fields;
    std::size_t i = 0;
    while (true) {
        // Leading blanks before a field are not part of it.
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::string field;
        if (i < line.size() && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < line.size()) {
                if (line[i] == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        field.push_back('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                field.push_back(line[i++]);
            }
            if (!closed) {
                return Error(errc::parse_error,
                             "unterminated quoted field " + std::to_string(fields.size() + 1));
            }
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
            if (i < line.size() && line[i] != ',') {
                return Error(errc::parse_error,
                             "unexpected character after closing quote of field " +
                                 std::to_string(fields.size() + 1));
            }
        } else {
            std::size_t end = line.find(',', i);
            if (end == std::string_view::npos) end = line.size();
            std::string_view raw = trim(line.substr(i, end - i));
            if (raw.find('"') != std::string_view::npos) {
                return Error(errc::parse_error,
                             "bare '\"' in unquoted field " + std::to_string(fields.size() + 1));
            }
            field.assign(raw);
            i = end;
        }
        fields.push_back(std::move(field));
        if (i >= line.size()) break;
        ++i;  // the ','
    }
    return fields;
}

// Constant time in the content of both strings (only their lengths show).
bool constant_time_equal(std::string_view a, std::string_view b) {
    std::size_t n = std::max(a.size(), b.size());
    unsigned diff = a.size() == b.size() ? 0U : 1U;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned>(x ^ y);
    }
    return diff == 0;
}

}  // namespace

Result<TokenAuthenticator> TokenAuthenticator::parse(std::string_view text,
                                                     std::string_view source) {
    TokenAuthenticator out;
    std::unordered_set<std::string> seen;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    // Editors on Windows like to start files with a UTF-8 byte order mark.
    if (text.starts_with("\xEF\xBB\xBF")) pos = 3;
    auto fail = [&](const std::string& what) {
        return Error(errc::parse_error,
                     std::string(source) + ":" + std::to_string(line_no) + ": " + what);
    };
    while (pos <= text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;
        auto fields = split_csv_line(line);
        if (!fields) return fail(fields.error().detail);
        if (fields->size() < 3) {
            return fail("expected at least 3 columns (token, user name, user uid), found " +
                        std::to_string(fields->size()));
        }
        auto& f = *fields;
        if (f[0].empty()) return fail("empty token");
        if (f[1].empty()) return fail("empty user name");
        if (!seen.insert(f[0]).second) return fail("duplicate token (also on an earlier line)");
        Entry entry;
        entry.token = std::move(f[0]);
        entry.user.name = std::move(f[1]);
        entry.user.uid = std::move(f[2]);
        if (f.size() >= 4) {
            std::string_view groups = f[3];
            while (!groups.empty()) {
                std::size_t comma = groups.find(',');
                std::string_view g = trim(groups.substr(0, comma));
                if (!g.empty()) entry.user.groups.emplace_back(g);
                if (comma == std::string_view::npos) break;
                groups.remove_prefix(comma + 1);
            }
        }
        add_authenticated_group(entry.user);
        out.entries_.push_back(std::move(entry));
    }
    return out;
}

Result<TokenAuthenticator> TokenAuthenticator::load(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error(errc::io_error, "cannot read token file " + path.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return Error(errc::io_error, "cannot read token file " + path.string());
    auto parsed = parse(buf.str(), path.string());
    if (parsed) {
        log::get("apiserver.auth")
            ->info("loaded {} token(s) from {}", parsed->size(), path.string());
    }
    return parsed;
}

std::optional<UserInfo> TokenAuthenticator::authenticate(std::string_view token) const {
    if (token.empty()) return std::nullopt;
    const Entry* match = nullptr;
    for (const auto& e : entries_) {
        // No early exit: every entry costs the same whether or not an earlier one matched.
        bool eq = constant_time_equal(e.token, token);
        match = eq ? &e : match;
    }
    if (match == nullptr) return std::nullopt;
    return match->user;
}

Result<UserInfo> user_from_client_certificate(const pki::Subject& subject) {
    if (subject.common_name.empty()) {
        return Error(errc::unauthorized, "client certificate has an empty common name");
    }
    UserInfo user;
    user.name = subject.common_name;
    user.groups = subject.organizations;
    add_authenticated_group(user);
    return user;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
    header = trim(header);
    constexpr std::string_view kScheme = "bearer";
    if (header.size() <= kScheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
    }
    if (header[kScheme.size()] != ' ' && header[kScheme.size()] != '\t') return std::nullopt;
    std::string_view token = trim(header.substr(kScheme.size()));
    if (token.empty()) return std::nullopt;
    return token;
}

RequestAuthenticator::RequestAuthenticator(std::shared_ptr<const TokenAuthenticator> tokens,
                                           bool accept_client_certificates)
    : tokens_(std::move(tokens)), accept_client_certificates_(accept_client_certificates) {}

Result<UserInfo> RequestAuthenticator::authenticate(const Credentials& credentials) const {
    std::string why;
    if (credentials.client_certificate) {
        if (!accept_client_certificates_) {
            why = "client certificates are not accepted (no client CA configured)";
        } else {
            auto user = user_from_client_certificate(*credentials.client_certificate);
            if (user) return user;
            why = user.error().detail;
        }
    }
    if (credentials.bearer_token) {
        if (!why.empty()) why += "; ";
        if (!tokens_) {
            why += "bearer tokens are not accepted (no token file configured)";
        } else if (auto user = tokens_->authenticate(*credentials.bearer_token)) {
            return *user;
        } else {
            why += "invalid bearer token";
        }
    }
    if (why.empty()) why = "anonymous requests are not allowed";
    return Error(errc::unauthorized, why);
}

}  // namespace kedge::apiserver::auth

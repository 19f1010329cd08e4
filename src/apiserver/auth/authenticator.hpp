#pragma once
// Authentication for kedge-apiserver: bearer tokens from a kube static token file and verified
// TLS client certificates (CN = user, O = groups). Anonymous requests are refused (401). Pure
// functions of their inputs: the HTTP layer extracts the header and the peer certificate.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/auth/user_info.hpp"
#include "base/error.hpp"
#include "pki/types.hpp"

namespace kedge::apiserver::auth {

// The users of a kube static token file (--token-auth-file): one CSV record per line,
// `token,user,uid[,"group1,group2"]`. Immutable after loading, so safe to share across threads.
class TokenAuthenticator {
public:
    // Parses the file text; `source` (usually the path) prefixes error messages. Blank lines and
    // lines starting with '#' are skipped; fields may be quoted ("" is a quote); blanks around
    // unquoted fields and around each group are trimmed (a leading BOM is ignored). Unlike kube,
    // which warns and skips, an empty token, an empty user name or a duplicate token is an error:
    // a credential file that means two things should not start a server. parse_error with
    // "<source>:<line>: <what>" (the token itself never appears in a message).
    static Result<TokenAuthenticator> parse(std::string_view text, std::string_view source);
    // Reads and parses a file; io_error when it cannot be read.
    static Result<TokenAuthenticator> load(const std::filesystem::path& path);

    // The user of `token` (with system:authenticated added), or nullopt. Compares against every
    // entry in constant time per entry, without early exit, so timing does not reveal prefixes.
    std::optional<UserInfo> authenticate(std::string_view token) const;

    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string token;
        UserInfo user;
    };
    std::vector<Entry> entries_;
};

// The user a verified client certificate names: CN -> name, each O -> a group, plus
// system:authenticated. unauthorized when the CN is empty.
Result<UserInfo> user_from_client_certificate(const pki::Subject& subject);

// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive, spaces
// around the token trimmed); nullopt for other schemes or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);

// What a request presented: the subject of a client certificate the TLS layer already verified
// against --client-ca-file, and/or a bearer token.
struct Credentials {
    std::optional<pki::Subject> client_certificate;
    std::optional<std::string_view> bearer_token;
};

// kube's authenticator union for kedge's two methods: a client certificate first, then the
// token. Shared read-only across threads.
class RequestAuthenticator {
public:
    // tokens may be null (no --token-auth-file); accept_client_certificates is false when no
    // client CA is configured.
    RequestAuthenticator(std::shared_ptr<const TokenAuthenticator> tokens,
                         bool accept_client_certificates);

    // The user, or unauthorized ("Unauthorized" is what the server answers; the detail says
    // which credential failed, for the server's warn log) when nothing authenticates, including
    // when no credential was presented (anonymous is refused).
    Result<UserInfo> authenticate(const Credentials& credentials) const;

private:
    std::shared_ptr<const TokenAuthenticator> tokens_;
    bool accept_client_certificates_;
};

}  // namespace kedge::apiserver::auth

#include <gtest/gtest.h>

#include <fstream>

#include "apiserver/auth/authenticator.hpp"
#include "pki/certificate.hpp"
#include "pki/issue.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver::auth {
namespace {

using Groups = std::vector<std::string>;

TEST(TokenFile, ParsesKubeFormat) {
    auto tokens = TokenAuthenticator::parse(
        "# comment line\n"
        "\n"
        "tok-admin,admin,uid-1,\"system:masters,ops\"\n"
        "  tok-node , system:node:edge1 , uid-2 , system:nodes\r\n"
        "tok-plain,alice,uid-3\n"
        "\"tok,quoted\",\"bob \"\"the\"\" builder\",uid-4,\"\"\n",
        "tokens.csv");
    ASSERT_TRUE(tokens) << tokens.error().message();
    EXPECT_EQ(tokens->size(), 4U);

    auto admin = tokens->authenticate("tok-admin");
    ASSERT_TRUE(admin);
    EXPECT_EQ(admin->name, "admin");
    EXPECT_EQ(admin->uid, "uid-1");
    EXPECT_EQ(admin->groups, (Groups{"system:masters", "ops", "system:authenticated"}));

    auto node = tokens->authenticate("tok-node");
    ASSERT_TRUE(node);
    EXPECT_EQ(node->name, "system:node:edge1");
    EXPECT_EQ(node->groups, (Groups{"system:nodes", "system:authenticated"}));

    auto alice = tokens->authenticate("tok-plain");
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->groups, (Groups{"system:authenticated"}));

    auto bob = tokens->authenticate("tok,quoted");
    ASSERT_TRUE(bob);
    EXPECT_EQ(bob->name, "bob \"the\" builder");
    EXPECT_EQ(bob->groups, (Groups{"system:authenticated"}));
}

TEST(TokenFile, RejectsUnknownPrefixAndLongerTokens) {
    auto tokens = TokenAuthenticator::parse("secret-token,alice,1\n", "t.csv").value();
    EXPECT_FALSE(tokens.authenticate(""));
    EXPECT_FALSE(tokens.authenticate("secret"));
    EXPECT_FALSE(tokens.authenticate("secret-token2"));
    EXPECT_FALSE(tokens.authenticate("Secret-token"));
    EXPECT_TRUE(tokens.authenticate("secret-token"));
}

TEST(TokenFile, BadLinesNameTheLineAndNeverTheToken) {
    struct Case {
        std::string text;
        std::string expect;
    };
    const Case cases[] = {
        {"good,u,1\nsupersecret,onlyuser\n", "t.csv:2: expected at least 3 columns"},
        {"# c\n,u,1\n", "t.csv:2: empty token"},
        {"supersecret,,1\n", "t.csv:1: empty user name"},
        {"supersecret,a,1\n\nsupersecret,b,2\n", "t.csv:3: duplicate token"},
        {"\"supersecret,a,1\n", "t.csv:1: unterminated quoted field 1"},
        {"\"supersecret\"x,a,1\n", "t.csv:1: unexpected character after closing quote"},
        {"super\"secret,a,1\n", "t.csv:1: bare '\"' in unquoted field 1"},
    };
    for (const auto& c : cases) {
        auto r = TokenAuthenticator::parse(c.text, "t.csv");
        ASSERT_FALSE(r) << c.text;
        EXPECT_TRUE(r.error().is(errc::parse_error));
        EXPECT_NE(r.error().detail.find(c.expect), std::string::npos) << r.error().detail;
        EXPECT_EQ(r.error().detail.find("supersecret"), std::string::npos) << r.error().detail;
    }
}

TEST(TokenFile, IgnoresByteOrderMark) {
    auto tokens = TokenAuthenticator::parse("\xEF\xBB\xBFtok,alice,1\n", "t.csv");
    ASSERT_TRUE(tokens) << tokens.error().message();
    EXPECT_EQ(tokens->authenticate("tok")->name, "alice");
}

TEST(TokenFile, EmptyFileHasNoUsers) {
    auto tokens = TokenAuthenticator::parse("\n# only comments\n   \n", "t.csv");
    ASSERT_TRUE(tokens);
    EXPECT_EQ(tokens->size(), 0U);
    EXPECT_FALSE(tokens->authenticate("x"));
}

TEST(TokenFile, LoadsFromDiskAndReportsMissingFile) {
    test::TempDir dir;
    {
        std::ofstream out(dir.file("tokens.csv"));
        out << "abc,carol,7,dev\n";
    }
    auto tokens = TokenAuthenticator::load(dir.file("tokens.csv"));
    ASSERT_TRUE(tokens) << tokens.error().message();
    EXPECT_EQ(tokens->authenticate("abc")->name, "carol");

    auto missing = TokenAuthenticator::load(dir.file("nope.csv"));
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::io_error));
    EXPECT_NE(missing.error().detail.find("nope.csv"), std::string::npos);
}

TEST(ClientCertificate, CommonNameIsUserOrganizationsAreGroups) {
    auto ca = pki::create_ca("test-ca").value();
    auto leaf = pki::issue_server_cert(ca.cert, ca.key,
                                       pki::Subject{"system:node:edge1", {"system:nodes", "x"}},
                                       pki::SubjectAltNames{{"127.0.0.1"}, {}})
                    .value();
    auto user = user_from_client_certificate(leaf.cert.subject());
    ASSERT_TRUE(user) << user.error().message();
    EXPECT_EQ(user->name, "system:node:edge1");
    EXPECT_EQ(user->groups, (Groups{"system:nodes", "x", "system:authenticated"}));
    EXPECT_EQ(node_name_of(*user), "edge1");

    auto no_cn = user_from_client_certificate(pki::Subject{"", {"system:masters"}});
    ASSERT_FALSE(no_cn);
    EXPECT_TRUE(no_cn.error().is(errc::unauthorized));
}

TEST(BearerHeader, ParsesSchemeCaseInsensitively) {
    EXPECT_EQ(bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
    EXPECT_EQ(bearer_token("BEARER\tabc"), "abc");
    EXPECT_FALSE(bearer_token("Basic YWJjOmRlZg=="));
    EXPECT_FALSE(bearer_token("Bearer "));
    EXPECT_FALSE(bearer_token("Bearerabc"));
    EXPECT_FALSE(bearer_token(""));
}

TEST(RequestAuthenticator, CertificateFirstThenTokenAnonymousRefused) {
    auto tokens = std::make_shared<const TokenAuthenticator>(
        TokenAuthenticator::parse("tok,alice,1\n", "t.csv").value());
    RequestAuthenticator authn(tokens, true);

    auto anon = authn.authenticate({});
    ASSERT_FALSE(anon);
    EXPECT_TRUE(anon.error().is(errc::unauthorized));
    EXPECT_NE(anon.error().detail.find("anonymous"), std::string::npos);

    auto by_token = authn.authenticate({std::nullopt, std::string_view("tok")});
    ASSERT_TRUE(by_token);
    EXPECT_EQ(by_token->name, "alice");

    auto bad_token = authn.authenticate({std::nullopt, std::string_view("nope")});
    ASSERT_FALSE(bad_token);
    EXPECT_TRUE(bad_token.error().is(errc::unauthorized));
    EXPECT_EQ(bad_token.error().detail.find("nope"), std::string::npos);

    auto by_cert = authn.authenticate({pki::Subject{"bob", {"devs"}}, std::string_view("tok")});
    ASSERT_TRUE(by_cert);
    EXPECT_EQ(by_cert->name, "bob");

    // A certificate without a CN falls through to the token.
    auto fallback = authn.authenticate({pki::Subject{"", {}}, std::string_view("tok")});
    ASSERT_TRUE(fallback);
    EXPECT_EQ(fallback->name, "alice");
}

TEST(RequestAuthenticator, DisabledMethodsAuthenticateNobody) {
    RequestAuthenticator authn(nullptr, false);
    EXPECT_FALSE(authn.authenticate({pki::Subject{"bob", {}}, std::nullopt}));
    EXPECT_FALSE(authn.authenticate({std::nullopt, std::string_view("tok")}));
}

}  // namespace
}  // namespace kedge::apiserver::auth

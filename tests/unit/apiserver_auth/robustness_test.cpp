// Malformed input never crashes and never half-applies: token files (operator input) and RBAC
// objects (API input, fed from watch events).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <random>

#include "apiserver/auth/authenticator.hpp"
#include "apiserver/auth/rbac_authorizer.hpp"

namespace kedge::apiserver::auth {
namespace {

TEST(Robustness, TokenFileEveryTruncationAndRandomBytes) {
    const std::string good =
        "# tokens\n\"a,b\",\"us\"\"er\",uid,\"g1, g2\"\n plain , bob , 2\n\ntok3,carol,3,g\n";
    ASSERT_TRUE(TokenAuthenticator::parse(good, "t"));
    for (std::size_t n = 0; n <= good.size(); ++n) {
        auto r = TokenAuthenticator::parse(good.substr(0, n), "t");
        if (!r) EXPECT_TRUE(r.error().is(errc::parse_error));
    }
    std::mt19937 rng(42);
    const std::string alphabet = "ab,\"\n\r# \t\x01\xff";
    for (int i = 0; i < 2000; ++i) {
        std::string text(rng() % 40, ' ');
        for (auto& c : text) c = alphabet[rng() % alphabet.size()];
        auto r = TokenAuthenticator::parse(text, "t");
        if (r) {
            EXPECT_FALSE(r->authenticate(""));
        } else {
            EXPECT_TRUE(r.error().is(errc::parse_error));
        }
    }
}

TEST(Robustness, RbacObjectsWithWrongTypes) {
    RbacStore store(false);
    const char* const bad[] = {
        R"({"kind":"Role","metadata":3})",
        R"({"kind":"Role","metadata":{"name":"r","namespace":"n"},"rules":5})",
        R"({"kind":"Role","metadata":{"name":"r","namespace":"n"},"rules":[7]})",
        R"({"kind":"Role","metadata":{"name":"r","namespace":"n"},"rules":[{"resources":[1]}]})",
        R"({"kind":"ClusterRole","metadata":{"name":"r"},"aggregationRule":{"clusterRoleSelectors":4}})",
        R"({"kind":"ClusterRole","metadata":{"name":"r"},
            "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"bad key!":"x"}}]}})",
        R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"n"},"roleRef":[]})",
        R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"n"},
            "roleRef":{"kind":"Role","name":"r"},"subjects":"x"})",
        R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"n"},
            "roleRef":{"kind":"Role","name":"r"},"subjects":[null]})",
        R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"n"},
            "roleRef":{"kind":"Role"}})",
        R"({"kind":7})",
        R"({})",
    };
    for (const char* json : bad) {
        auto r = store.on_event(boost::json::parse(json).as_object(), false);
        EXPECT_FALSE(r) << json;
    }
    // Null lists are empty lists, as in Go.
    EXPECT_TRUE(store.on_event(boost::json::parse(R"({"kind":"Role",
        "metadata":{"name":"r","namespace":"n"},"rules":[{"verbs":null,"resources":null}]})")
                                   .as_object(),
                               false));
    UserInfo u{"u", "", {}, {}};
    EXPECT_FALSE(
        store.authorize(u, resource_attributes("get", "", "n", "pods", "", "p")).allowed());
}

}  // namespace
}  // namespace kedge::apiserver::auth

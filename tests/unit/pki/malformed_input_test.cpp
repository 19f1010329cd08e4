// Bytes from the network (CSR bodies, tokens, CA downloads) mutated at random must be refused
// cleanly or parsed into something consistent: never a crash, never an exception. Runs under the
// asan preset too.

#include <gtest/gtest.h>

#include <random>

#include "pki/issue.hpp"
#include "pki/token.hpp"

namespace kedge::pki {
namespace {

constexpr int kIterations = 1500;

std::string mutate(std::string s, std::mt19937& rng) {
    std::uniform_int_distribution<int> op(0, 3);
    std::uniform_int_distribution<int> byte(0, 255);
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < edits && !s.empty(); ++i) {
        std::size_t pos = rng() % s.size();
        switch (op(rng)) {
            case 0:
                s[pos] = static_cast<char>(byte(rng));
                break;
            case 1:
                s.erase(pos, 1 + rng() % 8);
                break;
            case 2:
                s.insert(pos, 1, static_cast<char>(byte(rng)));
                break;
            case 3:
                s.resize(pos);
                break;
        }
    }
    return s;
}

TEST(MalformedInput, MutatedDerNeverCrashes) {
    auto ca = create_ca();
    ASSERT_TRUE(ca);
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, {"system:node:e", {"system:nodes"}},
                                          {{"10.0.0.1"}, {"e"}});
    ASSERT_TRUE(csr);
    std::mt19937 rng(12345);
    int signed_count = 0;
    for (int i = 0; i < kIterations; ++i) {
        auto c = CertificateRequest::from_der(mutate(csr->to_der(), rng));
        if (c) {
            (void)c->subject();
            (void)c->sans();
            // Whatever parses may only be signed if its signature still verifies.
            auto cert = sign_csr(ca->cert, ca->key, *c);
            if (cert) {
                EXPECT_TRUE(c->verify_signature());
                ++signed_count;
            }
        }
        auto crt = Certificate::from_der(mutate(ca->cert.to_der(), rng));
        if (crt) {
            (void)crt->subject();
            (void)crt->sans();
            (void)crt->verify_chain(ca->cert, SystemClock::instance().now());
        }
        (void)PrivateKey::from_der(mutate(key->to_der(), rng));
        (void)Certificate::from_pem(mutate(ca->cert.to_pem(), rng));
        (void)PrivateKey::from_pem(mutate(key->to_pem(), rng));
    }
    // Random edits almost always break the signature; a handful may hit unsigned padding.
    EXPECT_LT(signed_count, kIterations / 10);
}

TEST(MalformedInput, MutatedTokensNeverVerify) {
    auto ca = create_ca();
    ASSERT_TRUE(ca);
    auto now = SystemClock::instance().now();
    auto token = create_token(ca->cert, ca->key, now + kDefaultTokenLifetime);
    ASSERT_TRUE(token);
    std::mt19937 rng(54321);
    for (int i = 0; i < kIterations; ++i) {
        std::string t = mutate(*token, rng);
        auto r = verify_token(t, ca->cert, ca->key, now);
        if (r) {
            // Only the unchanged token may pass (hex case in the CA hash does not matter).
            auto parts = split_token(t);
            ASSERT_TRUE(parts);
            EXPECT_EQ(parts->ca_hash + "." + parts->jwt, *token);
        }
        (void)split_token(t);
    }
}

}  // namespace
}  // namespace kedge::pki

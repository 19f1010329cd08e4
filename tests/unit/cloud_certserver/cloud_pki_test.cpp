// cloudcore's PKI material lifecycle against the file store: first start creates and stores the
// upstream Secrets, later starts (and other cloudcores) reuse them, the token is refreshed.
#include "cloud/certserver/cloud_pki.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "pki/issue.hpp"
#include "support/coro.hpp"
#include "support/test_support.hpp"

namespace kedge::cloud {
namespace {

using namespace std::chrono_literals;
using boost::asio::awaitable;

class CloudPkiTest : public ::testing::Test {
protected:
    CloudPkiOptions options() {
        CloudPkiOptions o;
        o.server_sans.ips = {"127.0.0.1", "10.1.2.3"};
        o.server_sans.dns_names = {"cloudcore.example"};
        return o;
    }
    std::shared_ptr<CloudPki> load(PkiStore& store, CloudPkiOptions o) {
        auto r = test::run_coro(ioc_, CloudPki::load_or_create(store, std::move(o), clock_));
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : nullptr;
    }
    std::shared_ptr<CloudPki> load() { return load(store_, options()); }

    test::TempDir dir_;
    FilePkiStore store_{dir_.file("secrets")};
    FakeClock clock_{Clock::time_point(std::chrono::seconds(1'800'000'000))};
    boost::asio::io_context ioc_;
};

TEST(FilePkiStoreTest, CreateLoadUpdate) {
    test::TempDir dir;
    FilePkiStore store(dir.file("s"));
    auto missing = store.load_now("casecret");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);

    SecretData data{{"cadata", std::string("\x30\x82\x00\x01", 4)}, {"cakeydata", "k"}};
    ASSERT_TRUE(store.create_now("casecret", data));
    auto again = store.create_now("casecret", {{"cadata", "other"}});
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().is(errc::already_exists));
    auto loaded = store.load_now("casecret");
    ASSERT_TRUE(loaded && *loaded);
    EXPECT_EQ(**loaded, data);
    // Laid out like a mounted Secret volume, readable by the owner only.
    EXPECT_EQ(test::read_file(dir.file("s/casecret/cakeydata")), "k");
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("s/casecret/cakeydata").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    ASSERT_TRUE(store.update_now("tokensecret", {{"tokendata", "t1"}}));
    ASSERT_TRUE(store.update_now("tokensecret", {{"tokendata", "t2"}}));
    EXPECT_EQ((*store.load_now("tokensecret"))->at("tokendata"), "t2");

    for (std::string bad : {"../x", "a/b", "", ".", ".."}) {
        auto r = store.create_now(bad, {});
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << bad;
    }
    EXPECT_FALSE(store.update_now("tokensecret", {{"../escape", "x"}}));
}

TEST_F(CloudPkiTest, FirstStartCreatesTheUpstreamSecrets) {
    auto p = load();
    ASSERT_TRUE(p);
    auto ca = store_.load_now("casecret");
    ASSERT_TRUE(ca && *ca);
    auto ca_cert = pki::Certificate::from_der((*ca)->at("cadata"));
    ASSERT_TRUE(ca_cert);
    ASSERT_TRUE(pki::PrivateKey::from_der((*ca)->at("cakeydata")));
    EXPECT_EQ(ca_cert->to_der(), p->ca_cert().to_der());
    EXPECT_EQ(ca_cert->subject().common_name, "KubeEdge");
    EXPECT_TRUE(ca_cert->is_ca());
    EXPECT_EQ(p->ca_key().curve_name(), "prime256v1");

    auto server = store_.load_now("cloudcoresecret");
    ASSERT_TRUE(server && *server);
    EXPECT_EQ((*server)->at("cloudcoredata"), p->server_cert().to_der());
    EXPECT_EQ((*server)->at("cloudcorekeydata"), p->server_key().to_der());
    EXPECT_TRUE(p->server_cert().verify_signed_by(p->ca_cert()));
    EXPECT_TRUE(p->server_cert().has_ext_key_usage(pki::ExtKeyUsage::kServerAuth));
    EXPECT_EQ(p->server_cert().sans(), options().server_sans);

    auto token = store_.load_now("tokensecret");
    ASSERT_TRUE(token && *token);
    EXPECT_EQ((*token)->at("tokendata"), p->token());
    EXPECT_EQ(p->token().substr(0, 65), p->ca_cert().sha256_hex() + ".");
    auto claims = pki::verify_token(p->token(), p->ca_cert(), p->ca_key(), clock_.now());
    ASSERT_TRUE(claims) << claims.error().message();
    EXPECT_EQ(claims->expires_at, clock_.now() + 24h);
}

TEST_F(CloudPkiTest, LaterStartsAndOtherCloudcoresReuseTheMaterial) {
    auto first = load();
    ASSERT_TRUE(first);
    clock_.advance(1h);
    auto second = load();  // a restart, or a second cloudcore on the same store
    ASSERT_TRUE(second);
    EXPECT_EQ(second->ca_cert().to_der(), first->ca_cert().to_der());
    EXPECT_EQ(second->server_cert().to_der(), first->server_cert().to_der());
    EXPECT_EQ(second->token(), first->token());
}

TEST_F(CloudPkiTest, AStoredTokenCloseToExpiryIsReplacedAtStart) {
    auto first = load();
    ASSERT_TRUE(first);
    clock_.advance(13h);  // 11 h left, less than one refresh period
    auto second = load();
    ASSERT_TRUE(second);
    EXPECT_NE(second->token(), first->token());
    EXPECT_EQ(second->token_expires_at(), clock_.now() + 24h);
    EXPECT_EQ((*store_.load_now("tokensecret"))->at("tokendata"), second->token());
}

TEST_F(CloudPkiTest, RefreshStoresANewTokenAndOldOnesStayValid) {
    auto p = load();
    ASSERT_TRUE(p);
    const std::string old = p->token();
    clock_.advance(12h);
    auto r = test::run_coro(ioc_, p->refresh_token());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_NE(p->token(), old);
    EXPECT_EQ((*store_.load_now("tokensecret"))->at("tokendata"), p->token());
    // Tokens are checked by signature, so the one handed out before still works until it expires.
    EXPECT_TRUE(p->verify_bearer(old));
    EXPECT_TRUE(p->verify_bearer(pki::split_token(old)->jwt));
    clock_.advance(12h + 1s);
    auto expired = p->verify_bearer(old);
    ASSERT_FALSE(expired);
    EXPECT_TRUE(expired.error().is(errc::expired));
    EXPECT_TRUE(p->verify_bearer(p->token()));
}

TEST_F(CloudPkiTest, BearerFromAnotherCaIsRefused) {
    auto p = load();
    ASSERT_TRUE(p);
    auto other = pki::create_ca("KubeEdge");
    ASSERT_TRUE(other);
    auto foreign = pki::create_token(other->cert, other->key, clock_.now() + 1h);
    auto r = p->verify_bearer(*foreign);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
    r = p->verify_bearer(pki::split_token(*foreign)->jwt);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
    // This CA's hash in front of a JWT signed by another key.
    r = p->verify_bearer(p->ca_cert().sha256_hex() + "." + pki::split_token(*foreign)->jwt);
    EXPECT_FALSE(r);
}

TEST_F(CloudPkiTest, CorruptStoredCaIsAnErrorNamingTheSecret) {
    ASSERT_TRUE(store_.create_now("casecret", {{"cadata", "garbage"}, {"cakeydata", "junk"}}));
    auto r = test::run_coro(ioc_, CloudPki::load_or_create(store_, options(), clock_));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::parse_error));
    EXPECT_NE(r.error().detail.find("casecret"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("cadata"), std::string::npos) << r.error().detail;
}

TEST_F(CloudPkiTest, ServerCertificateOfAnotherCaIsReplaced) {
    auto other = pki::create_ca("KubeEdge");
    auto stale = pki::issue_server_cert(other->cert, other->key, {"KubeEdge", {}}, {});
    ASSERT_TRUE(store_.create_now("cloudcoresecret", {{"cloudcoredata", stale->cert.to_der()},
                                                      {"cloudcorekeydata", stale->key.to_der()}}));
    auto p = load();
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->server_cert().verify_signed_by(p->ca_cert()));
    EXPECT_EQ((*store_.load_now("cloudcoresecret"))->at("cloudcoredata"),
              p->server_cert().to_der());
}

// A store in which another cloudcore creates each Secret just before we try to.
class RacingStore final : public PkiStore {
public:
    RacingStore(FilePkiStore& inner, std::function<void(const std::string&)> rival)
        : inner_(inner), rival_(std::move(rival)) {}
    awaitable<Result<std::optional<SecretData>>> load(std::string name) override {
        return inner_.load(std::move(name));
    }
    awaitable<Result<void>> create(std::string name, SecretData data) override {
        rival_(name);
        return inner_.create(std::move(name), std::move(data));
    }
    awaitable<Result<void>> update(std::string name, SecretData data) override {
        return inner_.update(std::move(name), std::move(data));
    }

private:
    FilePkiStore& inner_;
    std::function<void(const std::string&)> rival_;
};

TEST_F(CloudPkiTest, LoserOfACreationRaceAdoptsTheWinnersMaterial) {
    test::TempDir rival_dir;
    FilePkiStore rival_store(rival_dir.file("s"));
    auto rival = load(rival_store, options());  // the material the other cloudcore made
    ASSERT_TRUE(rival);
    RacingStore racing(store_, [&](const std::string& name) {
        if (!store_.load_now(name).value())
            store_.create_now(name, *rival_store.load_now(name).value());
    });
    auto p = load(racing, options());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->ca_cert().to_der(), rival->ca_cert().to_der());
    EXPECT_EQ(p->server_cert().to_der(), rival->server_cert().to_der());
}

TEST_F(CloudPkiTest, RefreshLoopRunsOnSchedule) {
    auto o = options();
    o.token_refresh = std::chrono::seconds(1);
    auto p = load(store_, o);
    ASSERT_TRUE(p);
    const std::string first = p->token();
    // The token's exp has one-second resolution: move the clock so the new one differs.
    clock_.advance(1h);
    boost::asio::co_spawn(ioc_, p->run_token_refresh(), boost::asio::detached);
    ioc_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (p->token() == first && std::chrono::steady_clock::now() < deadline) ioc_.run_for(50ms);
    EXPECT_NE(p->token(), first);
    EXPECT_EQ((*store_.load_now("tokensecret"))->at("tokendata"), p->token());
    ioc_.stop();
}

}  // namespace
}  // namespace kedge::cloud

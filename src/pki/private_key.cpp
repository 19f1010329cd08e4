#include "pki/private_key.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "pki/ossl_util.hpp"

namespace kedge::pki {

using detail::ossl_error;

struct PrivateKey::Impl {
    detail::PkeyPtr pkey;
    std::string sec1_der;

    ~Impl() { OPENSSL_cleanse(sec1_der.data(), sec1_der.size()); }
};

namespace {

// Never prompt on a terminal for a passphrase: an encrypted key is simply refused.
int no_password(char*, int, int, void*) { return -1; }

}  // namespace

Result<PrivateKey> PrivateKey::adopt(EVP_PKEY* raw) {
    detail::PkeyPtr pkey(raw);
    if (!EVP_PKEY_is_a(pkey.get(), "EC")) {
        return Error(errc::invalid_argument,
                     std::string("only EC private keys are supported, got ") +
                         detail::key_type_name(pkey.get()));
    }
    unsigned char* der = nullptr;
    int len = i2d_PrivateKey(pkey.get(), &der);
    if (len <= 0) return ossl_error(errc::crypto_error, "cannot encode EC private key");
    auto impl = std::make_shared<Impl>();
    impl->sec1_der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_clear_free(der, static_cast<std::size_t>(len));
    impl->pkey = std::move(pkey);
    return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::generate() {
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    if (pkey == nullptr) return ossl_error(errc::crypto_error, "cannot generate P-256 key");
    return adopt(pkey);
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
    auto bio = detail::mem_bio(pem);
    if (!bio) return Error(errc::too_large, "private key PEM is too large");
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
    if (pkey == nullptr) {
        return ossl_error(errc::parse_error,
                          "no readable EC PRIVATE KEY or PRIVATE KEY PEM block (encrypted keys "
                          "are not supported)");
    }
    detail::clear_ossl_errors();
    return adopt(pkey);
}

Result<PrivateKey> PrivateKey::from_der(std::string_view der) {
    const unsigned char* p = detail::uchars(der);
    EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
    if (pkey == nullptr) {
        return ossl_error(errc::parse_error, "not a SEC1 or PKCS#8 private key DER");
    }
    detail::clear_ossl_errors();
    if (p != detail::uchars(der) + der.size()) {
        EVP_PKEY_free(pkey);
        return Error(errc::parse_error, "trailing bytes after private key DER");
    }
    return adopt(pkey);
}

const std::string& PrivateKey::to_der() const noexcept { return impl_->sec1_der; }

std::string PrivateKey::to_pem() const { return detail::pem_armor("EC PRIVATE KEY", to_der()); }

Result<std::string> PrivateKey::to_pkcs8_pem() const {
    detail::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
        return ossl_error(errc::crypto_error, "cannot write PKCS#8 private key PEM");
    }
    return detail::bio_contents(bio.get());
}

std::string PrivateKey::curve_name() const {
    char name[80] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(impl_->pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, name,
                                       sizeof(name), &len) != 1) {
        detail::clear_ossl_errors();
        return {};
    }
    return std::string(name, len);
}

std::string PrivateKey::public_key_der() const { return detail::public_key_der(native()); }

EVP_PKEY* PrivateKey::native() const noexcept { return impl_->pkey.get(); }

}  // namespace kedge::pki

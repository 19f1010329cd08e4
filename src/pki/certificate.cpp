#include "pki/certificate.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "pki/ossl_util.hpp"
#include "pki/private_key.hpp"

namespace kedge::pki {

using detail::ossl_error;

struct Certificate::Impl {
    detail::X509Ptr x509;
    std::string der;
    Clock::time_point not_before;
    Clock::time_point not_after;
};

Result<Certificate> Certificate::from_native(X509* cert) {
    if (cert == nullptr) return Error(errc::invalid_argument, "no certificate");
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    if (len <= 0) return ossl_error(errc::crypto_error, "cannot encode certificate");
    auto impl = std::make_shared<Impl>();
    impl->der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    auto nb = detail::asn1_time_to_point(X509_get0_notBefore(cert));
    if (!nb) return nb.error();
    auto na = detail::asn1_time_to_point(X509_get0_notAfter(cert));
    if (!na) return na.error();
    impl->not_before = *nb;
    impl->not_after = *na;
    // Caches the extensions now; a certificate with broken extensions is refused here rather
    // than behaving oddly in the usage checks later.
    if (X509_check_purpose(cert, -1, 0) != 1 || (X509_get_extension_flags(cert) & EXFLAG_INVALID)) {
        return ossl_error(errc::parse_error, "certificate has invalid extensions");
    }
    X509_up_ref(cert);
    impl->x509.reset(cert);
    return Certificate(std::move(impl));
}

Result<Certificate> Certificate::from_der(std::string_view der) {
    const unsigned char* p = detail::uchars(der);
    detail::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) return ossl_error(errc::parse_error, "not a DER X.509 certificate");
    if (p != detail::uchars(der) + der.size()) {
        return Error(errc::parse_error, "trailing bytes after certificate DER");
    }
    return from_native(cert.get());
}

Result<Certificate> Certificate::from_pem(std::string_view pem) {
    auto bio = detail::mem_bio(pem);
    if (!bio) return Error(errc::too_large, "certificate PEM is too large");
    detail::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return ossl_error(errc::parse_error, "no CERTIFICATE PEM block");
    return from_native(cert.get());
}

Result<std::vector<Certificate>> Certificate::all_from_pem(std::string_view pem) {
    auto bio = detail::mem_bio(pem);
    if (!bio) return Error(errc::too_large, "certificate PEM is too large");
    std::vector<Certificate> out;
    while (true) {
        detail::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        auto c = from_native(cert.get());
        if (!c) return c.error();
        out.push_back(std::move(*c));
    }
    // The loop ends on "no start line" at the end of input; anything else is a real error.
    unsigned long err = ERR_peek_last_error();
    if (!out.empty() && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        detail::clear_ossl_errors();
        return out;
    }
    if (out.empty()) return ossl_error(errc::parse_error, "no CERTIFICATE PEM block");
    return ossl_error(errc::parse_error,
                      "bad CERTIFICATE PEM block after certificate " + std::to_string(out.size()));
}

const std::string& Certificate::to_der() const noexcept { return impl_->der; }

std::string Certificate::to_pem() const { return detail::pem_armor("CERTIFICATE", impl_->der); }

Subject Certificate::subject() const {
    return detail::read_name(X509_get_subject_name(impl_->x509.get()));
}

Subject Certificate::issuer() const {
    return detail::read_name(X509_get_issuer_name(impl_->x509.get()));
}

SubjectAltNames Certificate::sans() const {
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(impl_->x509.get(), NID_subject_alt_name, nullptr, nullptr));
    detail::GeneralNamesPtr owned(names);
    return detail::read_general_names(names);
}

Clock::time_point Certificate::not_before() const noexcept { return impl_->not_before; }
Clock::time_point Certificate::not_after() const noexcept { return impl_->not_after; }

bool Certificate::valid_at(Clock::time_point at) const noexcept {
    return impl_->not_before <= at && at <= impl_->not_after;
}

std::string Certificate::sha256_hex() const {
    std::string digest = detail::sha256_bytes(impl_->der);
    return detail::hex_lower(detail::uchars(digest), digest.size());
}

std::string Certificate::serial_hex() const {
    const ASN1_INTEGER* serial = X509_get0_serialNumber(impl_->x509.get());
    return detail::hex_lower(ASN1_STRING_get0_data(serial),
                             static_cast<std::size_t>(ASN1_STRING_length(serial)));
}

bool Certificate::is_ca() const noexcept {
    return (X509_get_extension_flags(impl_->x509.get()) & EXFLAG_CA) != 0;
}

bool Certificate::has_key_usage(KeyUsage usage) const noexcept {
    X509* x = impl_->x509.get();
    if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) == 0) return false;
    std::uint32_t bits = X509_get_key_usage(x);
    switch (usage) {
        case KeyUsage::kDigitalSignature:
            return (bits & KU_DIGITAL_SIGNATURE) != 0;
        case KeyUsage::kKeyEncipherment:
            return (bits & KU_KEY_ENCIPHERMENT) != 0;
        case KeyUsage::kKeyCertSign:
            return (bits & KU_KEY_CERT_SIGN) != 0;
        case KeyUsage::kCrlSign:
            return (bits & KU_CRL_SIGN) != 0;
    }
    return false;
}

bool Certificate::has_ext_key_usage(ExtKeyUsage usage) const noexcept {
    X509* x = impl_->x509.get();
    if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) == 0) return false;
    std::uint32_t bits = X509_get_extended_key_usage(x);
    switch (usage) {
        case ExtKeyUsage::kServerAuth:
            return (bits & XKU_SSL_SERVER) != 0;
        case ExtKeyUsage::kClientAuth:
            return (bits & XKU_SSL_CLIENT) != 0;
    }
    return false;
}

bool Certificate::matches_key(const PrivateKey& key) const noexcept {
    EVP_PKEY* pub = X509_get0_pubkey(impl_->x509.get());
    bool same = pub != nullptr && EVP_PKEY_eq(pub, key.native()) == 1;
    detail::clear_ossl_errors();
    return same;
}

Result<void> Certificate::verify_signed_by(const Certificate& ca) const {
    X509* cert = impl_->x509.get();
    if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca.native())) != 0) {
        return Error(errc::unauthorized, "certificate issuer '" + issuer().to_string() +
                                             "' is not the CA subject '" +
                                             ca.subject().to_string() + "'");
    }
    EVP_PKEY* ca_key = X509_get0_pubkey(ca.native());
    if (ca_key == nullptr || X509_verify(cert, ca_key) != 1) {
        return ossl_error(errc::unauthorized,
                          "certificate signature does not verify with the CA key");
    }
    return {};
}

Result<void> Certificate::verify_chain(const Certificate& ca, Clock::time_point at,
                                       std::optional<ExtKeyUsage> usage) const {
    detail::X509StorePtr store(X509_STORE_new());
    detail::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.native()) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), impl_->x509.get(), nullptr) != 1) {
        return ossl_error(errc::crypto_error, "cannot set up certificate verification");
    }
    X509_STORE_CTX_set_time(
        ctx.get(), 0,
        static_cast<time_t>(
            std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count()));
    if (usage) {
        int purpose =
            *usage == ExtKeyUsage::kServerAuth ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT;
        X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    }
    int ok = X509_verify_cert(ctx.get());
    detail::clear_ossl_errors();
    if (ok == 1) return {};
    int err = X509_STORE_CTX_get_error(ctx.get());
    std::string detail = "certificate '" + subject().to_string() +
                         "' does not verify: " + X509_verify_cert_error_string(err);
    bool time_problem = err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID;
    return Error(time_problem ? errc::expired : errc::unauthorized, std::move(detail));
}

X509* Certificate::native() const noexcept { return impl_->x509.get(); }

}  // namespace kedge::pki

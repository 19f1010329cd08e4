#include "pki/issue.hpp"

#include <openssl/rand.h>

#include "pki/ossl_util.hpp"

namespace kedge::pki {

using detail::ossl_error;

namespace {

// What differs between the certificates we issue.
struct CertSpec {
    Subject subject;
    SubjectAltNames sans;
    bool ca = false;
    const char* key_usage = nullptr;  // OpenSSL config syntax
    std::vector<ExtKeyUsage> ext_key_usages;
    std::chrono::seconds lifetime{};
    Clock::time_point now;
};

Result<detail::Asn1IntegerPtr> random_serial() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return ossl_error(errc::crypto_error, "no randomness for a serial number");
    }
    bytes[0] &= 0x7f;  // a positive INTEGER
    bytes[0] |= 0x01;  // never zero, never shorter than the others
    detail::BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
    detail::Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    if (!serial) return ossl_error(errc::crypto_error, "cannot encode serial number");
    return serial;
}

Result<void> add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    detail::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        return ossl_error(errc::crypto_error,
                          std::string("cannot add extension ") + OBJ_nid2sn(nid) + " = " + value);
    }
    return {};
}

std::string ext_key_usage_text(const std::vector<ExtKeyUsage>& usages) {
    std::string text;
    for (auto u : usages) {
        if (!text.empty()) text += ",";
        text += u == ExtKeyUsage::kServerAuth ? "serverAuth" : "clientAuth";
    }
    return text;
}

time_t to_time_t(Clock::time_point t) {
    return static_cast<time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Builds and signs a certificate for subject_key. issuer_cert == nullptr means self-signed.
Result<Certificate> build_cert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                               EVP_PKEY* issuer_key) {
    if (spec.lifetime <= std::chrono::seconds::zero()) {
        return Error(errc::invalid_argument, "certificate lifetime must be positive");
    }
    if (spec.ext_key_usages.empty()) {
        return Error(errc::invalid_argument, "at least one extended key usage is required");
    }
    detail::X509Ptr cert(X509_new());
    if (!cert) return ossl_error(errc::crypto_error, "cannot allocate certificate");
    auto serial = random_serial();
    if (!serial) return serial.error();
    auto name = detail::build_name(spec.subject);
    if (!name) return name.error();
    X509_NAME* issuer_name = issuer_cert ? X509_get_subject_name(issuer_cert) : name->get();
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
        X509_set_subject_name(cert.get(), name->get()) != 1 ||
        X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
        X509_set_pubkey(cert.get(), subject_key) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(spec.now - kClockSkewAllowance)) ==
            nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(spec.now + spec.lifetime)) ==
            nullptr) {
        return ossl_error(errc::crypto_error, "cannot fill certificate fields");
    }

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : cert.get(), cert.get(), nullptr, nullptr, 0);
    for (auto r :
         {add_ext(cert.get(), &ctx, NID_basic_constraints,
                  spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE"),
          add_ext(cert.get(), &ctx, NID_key_usage, spec.key_usage),
          add_ext(cert.get(), &ctx, NID_ext_key_usage, ext_key_usage_text(spec.ext_key_usages)),
          add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash")}) {
        if (!r) return r.error();
    }
    if (issuer_cert != nullptr) {
        if (auto r = add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"); !r) {
            return r.error();
        }
    }
    if (!spec.sans.empty()) {
        auto names = detail::build_general_names(spec.sans);
        if (!names) return names.error();
        if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names->get(), 0,
                              X509V3_ADD_DEFAULT) != 1) {
            return ossl_error(errc::crypto_error, "cannot add subjectAltName");
        }
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
        return ossl_error(errc::crypto_error, "cannot sign certificate");
    }
    return Certificate::from_native(cert.get());
}

Result<void> check_ca(const Certificate& ca_cert, const PrivateKey& ca_key) {
    if (!ca_cert.is_ca()) {
        return Error(errc::invalid_argument,
                     "'" + ca_cert.subject().to_string() + "' is not a CA certificate");
    }
    if (!ca_cert.matches_key(ca_key)) {
        return Error(errc::invalid_argument, "the CA key does not belong to the CA certificate '" +
                                                 ca_cert.subject().to_string() + "'");
    }
    return {};
}

}  // namespace

Result<CertAndKey> create_ca(std::string_view cn, std::chrono::seconds lifetime,
                             Clock::time_point now) {
    auto key = PrivateKey::generate();
    if (!key) return key.error();
    CertSpec spec;
    spec.subject.common_name = std::string(cn);
    spec.ca = true;
    spec.key_usage = "critical,digitalSignature,keyCertSign,cRLSign";
    spec.ext_key_usages = {ExtKeyUsage::kServerAuth, ExtKeyUsage::kClientAuth};
    spec.lifetime = lifetime;
    spec.now = now;
    auto cert = build_cert(spec, key->native(), nullptr, key->native());
    if (!cert) return cert.error();
    return CertAndKey{std::move(*cert), std::move(*key)};
}

Result<CertAndKey> issue_server_cert(const Certificate& ca_cert, const PrivateKey& ca_key,
                                     const Subject& subject, const SubjectAltNames& sans,
                                     std::chrono::seconds lifetime, Clock::time_point now) {
    if (auto r = check_ca(ca_cert, ca_key); !r) return r.error();
    auto key = PrivateKey::generate();
    if (!key) return key.error();
    CertSpec spec;
    spec.subject = subject;
    spec.sans = sans;
    spec.key_usage = "critical,digitalSignature,keyEncipherment";
    spec.ext_key_usages = {ExtKeyUsage::kServerAuth};
    spec.lifetime = lifetime;
    spec.now = now;
    auto cert = build_cert(spec, key->native(), ca_cert.native(), ca_key.native());
    if (!cert) return cert.error();
    return CertAndKey{std::move(*cert), std::move(*key)};
}

Result<Certificate> sign_csr(const Certificate& ca_cert, const PrivateKey& ca_key,
                             const CertificateRequest& csr, const SignOptions& options) {
    if (auto r = check_ca(ca_cert, ca_key); !r) return r.error();
    if (auto r = csr.verify_signature(); !r) return r.error();
    EVP_PKEY* csr_key = X509_REQ_get0_pubkey(csr.native());
    bool acceptable_key = EVP_PKEY_is_a(csr_key, "EC") ||
                          (EVP_PKEY_is_a(csr_key, "RSA") && EVP_PKEY_get_bits(csr_key) >= 2048);
    if (!acceptable_key) {
        return Error(errc::invalid_argument,
                     std::string("certificate request key must be EC or RSA >= 2048 bits, got ") +
                         detail::key_type_name(csr_key) + " " +
                         std::to_string(EVP_PKEY_get_bits(csr_key)) + " bits");
    }
    Subject requested = csr.subject();
    if (options.required_subject && requested != *options.required_subject) {
        return Error(errc::forbidden, "certificate request subject '" + requested.to_string() +
                                          "' is not the required '" +
                                          options.required_subject->to_string() + "'");
    }
    CertSpec spec;
    spec.subject = options.subject_override ? *options.subject_override : requested;
    if (options.copy_sans) spec.sans = csr.sans();
    spec.key_usage = "critical,digitalSignature,keyEncipherment";
    spec.ext_key_usages = options.ext_key_usages;
    spec.lifetime = options.lifetime;
    spec.now = options.now ? *options.now : SystemClock::instance().now();
    return build_cert(spec, csr_key, ca_cert.native(), ca_key.native());
}

}  // namespace kedge::pki

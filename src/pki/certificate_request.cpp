#include "pki/certificate_request.hpp"

#include <openssl/pem.h>

#include "pki/ossl_util.hpp"
#include "pki/private_key.hpp"

namespace kedge::pki {

using detail::ossl_error;

struct CertificateRequest::Impl {
    detail::X509ReqPtr req;
    std::string der;
};

Result<CertificateRequest> CertificateRequest::adopt(X509_REQ* raw) {
    detail::X509ReqPtr req(raw);
    unsigned char* der = nullptr;
    int len = i2d_X509_REQ(req.get(), &der);
    if (len <= 0) return ossl_error(errc::crypto_error, "cannot encode certificate request");
    auto impl = std::make_shared<Impl>();
    impl->der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    if (X509_REQ_get0_pubkey(req.get()) == nullptr) {
        return ossl_error(errc::parse_error, "certificate request has no usable public key");
    }
    impl->req = std::move(req);
    return CertificateRequest(std::move(impl));
}

Result<CertificateRequest> CertificateRequest::create(const PrivateKey& key, const Subject& subject,
                                                      const SubjectAltNames& sans) {
    detail::X509ReqPtr req(X509_REQ_new());
    if (!req) return ossl_error(errc::crypto_error, "cannot allocate certificate request");
    auto name = detail::build_name(subject);
    if (!name) return name.error();
    if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req.get(), name->get()) != 1 ||
        X509_REQ_set_pubkey(req.get(), key.native()) != 1) {
        return ossl_error(errc::crypto_error, "cannot fill certificate request");
    }
    if (!sans.empty()) {
        auto names = detail::build_general_names(sans);
        if (!names) return names.error();
        detail::ExtStackPtr exts(sk_X509_EXTENSION_new_null());
        X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names->get());
        if (!exts || ext == nullptr || sk_X509_EXTENSION_push(exts.get(), ext) == 0) {
            X509_EXTENSION_free(ext);
            return ossl_error(errc::crypto_error, "cannot encode subjectAltName request");
        }
        if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
            return ossl_error(errc::crypto_error, "cannot add extension request");
        }
    }
    if (X509_REQ_sign(req.get(), key.native(), EVP_sha256()) <= 0) {
        return ossl_error(errc::crypto_error, "cannot sign certificate request");
    }
    return adopt(req.release());
}

Result<CertificateRequest> CertificateRequest::from_der(std::string_view der) {
    const unsigned char* p = detail::uchars(der);
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
    if (req == nullptr) return ossl_error(errc::parse_error, "not a DER certificate request");
    if (p != detail::uchars(der) + der.size()) {
        X509_REQ_free(req);
        return Error(errc::parse_error, "trailing bytes after certificate request DER");
    }
    return adopt(req);
}

Result<CertificateRequest> CertificateRequest::from_pem(std::string_view pem) {
    auto bio = detail::mem_bio(pem);
    if (!bio) return Error(errc::too_large, "certificate request PEM is too large");
    X509_REQ* req = PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr);
    if (req == nullptr) return ossl_error(errc::parse_error, "no CERTIFICATE REQUEST PEM block");
    return adopt(req);
}

const std::string& CertificateRequest::to_der() const noexcept { return impl_->der; }

std::string CertificateRequest::to_pem() const {
    return detail::pem_armor("CERTIFICATE REQUEST", impl_->der);
}

Subject CertificateRequest::subject() const {
    return detail::read_name(X509_REQ_get_subject_name(impl_->req.get()));
}

SubjectAltNames CertificateRequest::sans() const {
    detail::ExtStackPtr exts(X509_REQ_get_extensions(impl_->req.get()));
    detail::clear_ossl_errors();
    if (!exts) return {};
    auto* names = static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr));
    detail::GeneralNamesPtr owned(names);
    return detail::read_general_names(names);
}

Result<void> CertificateRequest::verify_signature() const {
    EVP_PKEY* key = X509_REQ_get0_pubkey(impl_->req.get());
    if (key == nullptr || X509_REQ_verify(impl_->req.get(), key) != 1) {
        return ossl_error(errc::unauthorized,
                          "certificate request signature does not verify with its own public key");
    }
    return {};
}

bool CertificateRequest::matches_key(const PrivateKey& key) const noexcept {
    EVP_PKEY* pub = X509_REQ_get0_pubkey(impl_->req.get());
    bool same = pub != nullptr && EVP_PKEY_eq(pub, key.native()) == 1;
    detail::clear_ossl_errors();
    return same;
}

X509_REQ* CertificateRequest::native() const noexcept { return impl_->req.get(); }

}  // namespace kedge::pki

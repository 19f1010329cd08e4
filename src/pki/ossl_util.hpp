#pragma once
// Internal to the pki library (not part of its API): RAII aliases for OpenSSL handles and the
// conversions every pki source needs (error queue -> Error, names, SANs, times, PEM armour).

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "pki/types.hpp"

namespace kedge::pki::detail {

template <auto Fn>
struct Free {
    template <class T>
    void operator()(T* p) const noexcept {
        Fn(p);
    }
};

using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER_free>>;
inline void free_extension_stack(STACK_OF(X509_EXTENSION) * s) {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Free<free_extension_stack>>;

// An Error whose detail is `what` followed by the drained OpenSSL error queue, so the queue never
// leaks into an unrelated later call.
Error ossl_error(errc code, std::string_view what);
// Drops whatever OpenSSL queued (after a failure we handled ourselves).
void clear_ossl_errors();

inline const unsigned char* uchars(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// A read-only memory BIO over data (which must outlive the BIO).
BioPtr mem_bio(std::string_view data);
std::string bio_contents(BIO* bio);

std::string hex_lower(const unsigned char* data, std::size_t size);
std::string sha256_bytes(std::string_view data);

// "-----BEGIN <label>-----" armour around base64 of der, 64 columns, as OpenSSL and Go write it.
std::string pem_armor(std::string_view label, std::string_view der);

Result<X509NamePtr> build_name(const Subject& subject);
Subject read_name(const X509_NAME* name);

Result<GeneralNamesPtr> build_general_names(const SubjectAltNames& sans);
SubjectAltNames read_general_names(const GENERAL_NAMES* names);

Result<Clock::time_point> asn1_time_to_point(const ASN1_TIME* t);

// "EC", "RSA", ... or "unknown" (never null, unlike EVP_PKEY_get0_type_name).
std::string key_type_name(const EVP_PKEY* key);

// DER of a public key (SubjectPublicKeyInfo), for comparing keys and for key identifiers.
std::string public_key_der(EVP_PKEY* key);

}  // namespace kedge::pki::detail

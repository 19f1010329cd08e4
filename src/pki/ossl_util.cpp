#include "pki/ossl_util.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>

#include <ctime>
#include <limits>

namespace kedge::pki::detail {

Error ossl_error(errc code, std::string_view what) {
    std::string detail(what);
    bool first = true;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        detail += first ? ": " : "; ";
        detail += buf;
        first = false;
    }
    return Error(code, std::move(detail));
}

void clear_ossl_errors() { ERR_clear_error(); }

BioPtr mem_bio(std::string_view data) {
    // BIO_new_mem_buf takes an int length; inputs larger than that are refused by the callers.
    if (data.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0 || data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(len));
}

std::string hex_lower(const unsigned char* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(kDigits[data[i] >> 4]);
        out.push_back(kDigits[data[i] & 0x0f]);
    }
    return out;
}

std::string sha256_bytes(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
        // SHA-256 of memory cannot fail short of a broken OpenSSL install.
        clear_ossl_errors();
        return {};
    }
    return std::string(reinterpret_cast<const char*>(md), len);
}

std::string pem_armor(std::string_view label, std::string_view der) {
    std::string out = "-----BEGIN " + std::string(label) + "-----\n";
    constexpr std::size_t kChunk = 48;  // 48 bytes -> one 64-column base64 line
    unsigned char line[65];
    for (std::size_t off = 0; off < der.size(); off += kChunk) {
        std::size_t n = std::min(kChunk, der.size() - off);
        int len = EVP_EncodeBlock(line, uchars(der.substr(off, n)), static_cast<int>(n));
        out.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(len));
        out.push_back('\n');
    }
    out += "-----END " + std::string(label) + "-----\n";
    return out;
}

Result<X509NamePtr> build_name(const Subject& subject) {
    X509NamePtr name(X509_NAME_new());
    if (!name) return ossl_error(errc::crypto_error, "cannot allocate X509_NAME");
    // Go's pkix.Name puts O before CN; keep that order so names print the same way.
    for (const auto& o : subject.organizations) {
        if (X509_NAME_add_entry_by_NID(name.get(), NID_organizationName, MBSTRING_UTF8, uchars(o),
                                       static_cast<int>(o.size()), -1, 0) != 1) {
            return ossl_error(errc::invalid_argument, "invalid organization '" + o + "'");
        }
    }
    if (!subject.common_name.empty()) {
        const auto& cn = subject.common_name;
        if (X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8, uchars(cn),
                                       static_cast<int>(cn.size()), -1, 0) != 1) {
            return ossl_error(errc::invalid_argument, "invalid common name '" + cn + "'");
        }
    }
    return name;
}

namespace {

std::string entry_utf8(const X509_NAME_ENTRY* entry) {
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) {
        clear_ossl_errors();
        return {};
    }
    std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

std::string ip_to_text(const unsigned char* bytes, int len) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (len == 4 && inet_ntop(AF_INET, bytes, buf, sizeof(buf)) != nullptr) return buf;
    if (len == 16 && inet_ntop(AF_INET6, bytes, buf, sizeof(buf)) != nullptr) return buf;
    return {};
}

}  // namespace

Subject read_name(const X509_NAME* name) {
    Subject subject;
    if (name == nullptr) return subject;
    int count = X509_NAME_entry_count(name);
    for (int i = 0; i < count; ++i) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
        if (nid == NID_commonName) {
            // Like Go, the last CN wins if a name carries several.
            subject.common_name = entry_utf8(entry);
        } else if (nid == NID_organizationName) {
            subject.organizations.push_back(entry_utf8(entry));
        }
    }
    return subject;
}

Result<GeneralNamesPtr> build_general_names(const SubjectAltNames& sans) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    if (!names) return ossl_error(errc::crypto_error, "cannot allocate GENERAL_NAMES");
    for (const auto& dns : sans.dns_names) {
        if (dns.empty() || dns.find('\0') != std::string::npos) {
            return Error(errc::invalid_argument, "invalid DNS name '" + dns + "'");
        }
        ASN1_IA5STRING* str = ASN1_IA5STRING_new();
        if (str == nullptr || ASN1_STRING_set(str, dns.data(), static_cast<int>(dns.size())) != 1) {
            ASN1_IA5STRING_free(str);
            return ossl_error(errc::crypto_error, "cannot encode DNS name");
        }
        GENERAL_NAME* gen = GENERAL_NAME_new();
        if (gen == nullptr) {
            ASN1_IA5STRING_free(str);
            return ossl_error(errc::crypto_error, "cannot allocate GENERAL_NAME");
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, str);
        if (sk_GENERAL_NAME_push(names.get(), gen) == 0) {
            GENERAL_NAME_free(gen);
            return ossl_error(errc::crypto_error, "cannot add DNS name");
        }
    }
    for (const auto& ip : sans.ips) {
        ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
        if (octets == nullptr || ip.find('\0') != std::string::npos) {
            ASN1_OCTET_STRING_free(octets);
            clear_ossl_errors();
            return Error(errc::invalid_argument, "invalid IP address '" + ip + "'");
        }
        GENERAL_NAME* gen = GENERAL_NAME_new();
        if (gen == nullptr) {
            ASN1_OCTET_STRING_free(octets);
            return ossl_error(errc::crypto_error, "cannot allocate GENERAL_NAME");
        }
        GENERAL_NAME_set0_value(gen, GEN_IPADD, octets);
        if (sk_GENERAL_NAME_push(names.get(), gen) == 0) {
            GENERAL_NAME_free(gen);
            return ossl_error(errc::crypto_error, "cannot add IP address");
        }
    }
    return names;
}

SubjectAltNames read_general_names(const GENERAL_NAMES* names) {
    SubjectAltNames sans;
    if (names == nullptr) return sans;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
        int type = 0;
        void* value = GENERAL_NAME_get0_value(gen, &type);
        if (type == GEN_DNS) {
            auto* str = static_cast<const ASN1_IA5STRING*>(value);
            sans.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                                        static_cast<std::size_t>(ASN1_STRING_length(str)));
        } else if (type == GEN_IPADD) {
            auto* octets = static_cast<const ASN1_OCTET_STRING*>(value);
            std::string text =
                ip_to_text(ASN1_STRING_get0_data(octets), ASN1_STRING_length(octets));
            if (!text.empty()) sans.ips.push_back(std::move(text));
        }
    }
    return sans;
}

Result<Clock::time_point> asn1_time_to_point(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return ossl_error(errc::parse_error, "invalid certificate time");
    }
    std::time_t secs = timegm(&tm);
    return Clock::time_point(std::chrono::seconds(secs));
}

std::string key_type_name(const EVP_PKEY* key) {
    const char* name = key ? EVP_PKEY_get0_type_name(key) : nullptr;
    return name ? name : "unknown";
}

std::string public_key_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key, &der);
    if (len <= 0) {
        clear_ossl_errors();
        return {};
    }
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

}  // namespace kedge::pki::detail

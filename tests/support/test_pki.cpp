#include "support/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace waha::test {

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

PkeyPtr newKey() { return PkeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

bool addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return false;
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return true;
}

// The extensions a CA, or a leaf for 127.0.0.1/localhost, needs to pass verification.
bool addExtensions(X509* cert, X509* signer, bool ca) {
  if (ca) {
    return addExt(cert, signer, NID_basic_constraints, "critical,CA:TRUE") &&
           addExt(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") &&
           addExt(cert, signer, NID_subject_key_identifier, "hash");
  }
  // clientAuth too: the same certificate serves the kubeconfig client-certificate tests.
  return addExt(cert, signer, NID_basic_constraints, "critical,CA:FALSE") &&
         addExt(cert, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         addExt(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth") &&
         addExt(cert, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") &&
         addExt(cert, signer, NID_authority_key_identifier, "keyid:always");
}

// Self-signed when `issuer` is null. A null certificate when OpenSSL refused a step.
X509Ptr makeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuerKey, bool ca) {
  X509Ptr cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (!addExtensions(cert.get(), signer, ca) ||
      X509_sign(cert.get(), issuerKey != nullptr ? issuerKey : key, EVP_sha256()) <= 0) {
    return X509Ptr(nullptr, &X509_free);
  }
  return cert;
}

// The text written to a memory BIO, which it frees.
std::string drain(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string certPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  return drain(bio);
}

std::string keyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return drain(bio);
}

}  // namespace

Result<TestPki> makeTestPki(const std::string& caName, const std::string& leafName) {
  PkeyPtr caKey = newKey();
  PkeyPtr leafKey = newKey();
  if (!caKey || !leafKey) {
    return Error::make(0, "TLS", "cannot generate EC keys");
  }
  X509Ptr ca = makeCert(caKey.get(), caName.c_str(), nullptr, nullptr, true);
  if (!ca) {
    return Error::make(0, "TLS", "cannot make the CA certificate");
  }
  X509Ptr leaf = makeCert(leafKey.get(), leafName.c_str(), ca.get(), caKey.get(), false);
  if (!leaf) {
    return Error::make(0, "TLS", "cannot make the leaf certificate");
  }
  TestPki pki;
  pki.ca = {certPem(ca.get()), keyPem(caKey.get())};
  pki.leaf = {certPem(leaf.get()), keyPem(leafKey.get())};
  return pki;
}

}  // namespace waha::test

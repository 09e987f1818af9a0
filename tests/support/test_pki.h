#pragma once

// A throw-away PKI for tests and kube-sim: a CA and a certificate it signs, valid for 127.0.0.1
// and localhost as a server and as a client. EC P-256, so making one is instant.

#include <string>

#include "common/result.h"

namespace waha::test {

struct PemPair {
  std::string certPem;
  std::string keyPem;
};

struct TestPki {
  PemPair ca;
  PemPair leaf;  // signed by `ca`
};

Result<TestPki> makeTestPki(const std::string& caName = "test-ca",
                            const std::string& leafName = "localhost");

}  // namespace waha::test

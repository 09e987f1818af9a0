// kube-sim's serving certificate: a throw-away PKI made at start-up, whose CA goes into the
// kubeconfig; valid for 127.0.0.1 and localhost (what kubectl and the operator dial).

#include "api_server.h"
#include "support/test_pki.h"

namespace waha::sim {

Result<TlsMaterial> makeTlsMaterial() {
  auto pki = test::makeTestPki("kube-sim-ca", "kube-sim");
  if (!pki.ok()) {
    return pki.error();
  }
  TlsMaterial m;
  m.caCertPem = pki->ca.certPem;
  m.certPem = pki->leaf.certPem + pki->ca.certPem;  // the chain, so clients see the issuer
  m.keyPem = pki->leaf.keyPem;
  return m;
}

}  // namespace waha::sim

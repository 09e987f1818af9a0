#pragma once

// The config a WAHA worker receives for a session: spec.config as the user wrote it, with the
// values of spec.secretRefs injected at the last moment, so secrets live only in Secrets and in
// the worker, never in the WahaSession.

#include <optional>
#include <string>

#include "api/types.h"

namespace waha::api {

struct SessionSecretValues {
  std::optional<std::string> proxyPassword;   // value of spec.secretRefs.proxyPassword
  std::optional<std::string> webhookHmacKey;  // value of spec.secretRefs.webhookHmacKey
};

// spec.config (an empty object when absent) with config.proxy.password and the hmac.key of every
// config.webhooks entry set from `secrets`; unknown fields untouched.
Json wahaSessionConfig(const WahaSessionSpec& spec, const SessionSecretValues& secrets = {});

// True when WAHA must be told about a config change: the configs differ as JSON values (key
// order and number spelling do not count).
bool configChanged(const Json& applied, const Json& desired);

}  // namespace waha::api

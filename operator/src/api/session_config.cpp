#include "api/session_config.h"

namespace waha::api {

Json wahaSessionConfig(const WahaSessionSpec& spec, const SessionSecretValues& secrets) {
  Json config = spec.config.is_object() ? spec.config : Json::object();
  if (secrets.proxyPassword && config.contains("proxy") && config["proxy"].is_object()) {
    config["proxy"]["password"] = *secrets.proxyPassword;
  }
  if (secrets.webhookHmacKey && config.contains("webhooks") && config["webhooks"].is_array()) {
    for (auto& hook : config["webhooks"]) {
      if (hook.is_object()) {
        if (!hook.contains("hmac") || !hook["hmac"].is_object()) {
          hook["hmac"] = Json::object();
        }
        hook["hmac"]["key"] = *secrets.webhookHmacKey;
      }
    }
  }
  return config;
}

bool configChanged(const Json& applied, const Json& desired) { return applied != desired; }

}  // namespace waha::api

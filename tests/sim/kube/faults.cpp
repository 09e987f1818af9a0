// /admin/...: fault injection for tests and chaos runs (token-protected like the API). Every fault
// is logged once when set.

#include "api_server.h"
#include "common/log.h"
#include "errors.h"

namespace waha::sim {

namespace {

int intParam(const http::Request& req, const char* name, int fallback) {
  auto v = req.queryParam(name);
  if (!v) {
    return fallback;
  }
  try {
    return std::stoi(*v);
  } catch (const std::exception&) {
    return fallback;
  }
}

http::Response ok(const Json& extra = Json::object()) {
  Json body = {{"status", "ok"}};
  body.update(extra);
  return jsonResponse(200, body);
}

}  // namespace

http::Response ApiServer::admin(const http::Request& req) {
  const std::string what = req.path.substr(std::string("/admin/").size());
  if (what == "cut-watches") {
    size_t n = store_.closeAllWatches();
    log::warn("fault injected", {{"fault", "cut-watches"}, {"watches", std::to_string(n)}});
    return ok({{"closed", n}});
  }
  if (what == "expire-watches") {
    int n = intParam(req, "count", 1);
    store_.forceExpired(n);
    log::warn("fault injected", {{"fault", "expire-watches"}, {"count", std::to_string(n)}});
    return ok({{"count", n}});
  }
  if (what == "latency") {
    latencyMs_ = intParam(req, "ms", 0);
    log::warn("fault injected", {{"fault", "latency"}, {"ms", std::to_string(latencyMs_.load())}});
    return ok({{"ms", latencyMs_.load()}});
  }
  if (what == "fail-writes") {
    failPercent_ = std::clamp(intParam(req, "percent", 0), 0, 100);
    failCode_ = intParam(req, "code", 500) == 429 ? 429 : 500;
    retryAfterSeconds_ = intParam(req, "retryAfter", 1);
    log::warn("fault injected", {{"fault", "fail-writes"},
                                 {"percent", std::to_string(failPercent_.load())},
                                 {"code", std::to_string(failCode_.load())},
                                 {"retryAfter", std::to_string(retryAfterSeconds_.load())}});
    return ok({{"percent", failPercent_.load()}, {"code", failCode_.load()}});
  }
  if (what == "clear") {
    latencyMs_ = 0;
    failPercent_ = 0;
    store_.forceExpired(0);
    log::warn("fault cleared", {{"fault", "all"}});
    return ok();
  }
  if (what == "kill-pod-process" || what == "pod-not-ready" || what == "pod-ready") {
    std::string ns = req.queryParam("namespace").value_or("default");
    std::string pod = req.queryParam("pod").value_or("");
    Status st = Error::make(501, "NotImplemented", "kube-sim runs without simulated workloads");
    if (what == "kill-pod-process" && podHooks_.killProcess) {
      st = podHooks_.killProcess(ns, pod);
    } else if (what != "kill-pod-process" && podHooks_.setNotReady) {
      st = podHooks_.setNotReady(ns, pod, what == "pod-not-ready");
    }
    log::warn("fault injected",
              {{"fault", what}, {"pod", ns + "/" + pod}, {"ok", st ? "true" : "false"}});
    if (!st) {
      return jsonResponse(st.error().code == 0 ? 500 : st.error().code, statusJson(st.error()));
    }
    return ok();
  }
  if (what == "status") {
    return ok({{"watches", store_.watchCount()},
               {"resourceVersion", store_.resourceVersion()},
               {"latencyMs", latencyMs_.load()},
               {"failPercent", failPercent_.load()}});
  }
  return jsonResponse(404,
                      statusJson(Error::make(404, "NotFound", "unknown admin endpoint: " + what)));
}

}  // namespace waha::sim

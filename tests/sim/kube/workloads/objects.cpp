#include "workloads/objects.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>

namespace waha::sim::workloads {

const GVR kPods{"", "v1", "pods"};
const GVR kReplicaSets{"apps", "v1", "replicasets"};
const GVR kDeployments{"apps", "v1", "deployments"};
const GVR kNodes{"", "v1", "nodes"};
const GVR kSecrets{"", "v1", "secrets"};
const GVR kConfigMaps{"", "v1", "configmaps"};

namespace {

// k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell bad words.
constexpr const char* kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr int kSafeAlphabetLen = 27;

const Json* at(const Json& obj, const char* pointer) {
  try {
    const Json& v = obj.at(Json::json_pointer(pointer));
    return &v;
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool expressionMatches(const Json& expr, const Json& labels) {
  std::string key = strAt(expr, "/key");
  std::string op = strAt(expr, "/operator");
  bool has = labels.is_object() && labels.contains(key);
  std::string value = has && labels[key].is_string() ? labels[key].get<std::string>() : "";
  bool inValues = false;
  if (expr.contains("values") && expr["values"].is_array()) {
    for (const auto& v : expr["values"]) {
      if (v.is_string() && v.get<std::string>() == value) {
        inValues = true;
      }
    }
  }
  if (op == "In") {
    return has && inValues;
  }
  if (op == "NotIn") {
    return !has || !inValues;
  }
  if (op == "Exists") {
    return has;
  }
  if (op == "DoesNotExist") {
    return !has;
  }
  return false;
}

int phaseRank(const Json& pod) {
  std::string phase = strAt(pod, "/status/phase", "Pending");
  if (phase == "Pending") {
    return 0;
  }
  if (phase == "Unknown") {
    return 1;
  }
  return 2;
}

int64_t deletionCost(const Json& pod) {
  std::string v = strAt(pod, "/metadata/annotations/controller.kubernetes.io~1pod-deletion-cost");
  if (v.empty()) {
    return 0;
  }
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  return (end != nullptr && *end == '\0') ? n : 0;
}

int64_t restarts(const Json& pod) {
  int64_t total = 0;
  if (const Json* cs = at(pod, "/status/containerStatuses"); cs != nullptr && cs->is_array()) {
    for (const auto& c : *cs) {
      total += intAt(c, "/restartCount", 0);
    }
  }
  return total;
}

}  // namespace

std::string keyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string keyOf(const Json& obj) {
  return keyOf(strAt(obj, "/metadata/namespace"), strAt(obj, "/metadata/name"));
}

std::string strAt(const Json& obj, const char* pointer, const std::string& fallback) {
  const Json* v = at(obj, pointer);
  return v != nullptr && v->is_string() ? v->get<std::string>() : fallback;
}

int64_t intAt(const Json& obj, const char* pointer, int64_t fallback) {
  const Json* v = at(obj, pointer);
  return v != nullptr && v->is_number_integer() ? v->get<int64_t>() : fallback;
}

bool selectorMatches(const Json& selector, const Json& labels) {
  if (selector.is_object() && selector.contains("matchLabels") &&
      selector["matchLabels"].is_object()) {
    for (const auto& [k, v] : selector["matchLabels"].items()) {
      if (!labels.is_object() || !labels.contains(k) || labels[k] != v) {
        return false;
      }
    }
  }
  if (selector.is_object() && selector.contains("matchExpressions") &&
      selector["matchExpressions"].is_array()) {
    for (const auto& e : selector["matchExpressions"]) {
      if (!expressionMatches(e, labels)) {
        return false;
      }
    }
  }
  return true;
}

bool nodeSelectorMatches(const Json& nodeSelector, const Json& nodeLabels) {
  if (!nodeSelector.is_object()) {
    return true;
  }
  for (const auto& [k, v] : nodeSelector.items()) {
    if (!nodeLabels.is_object() || !nodeLabels.contains(k) || nodeLabels[k] != v) {
      return false;
    }
  }
  return true;
}

std::string podTemplateHash(const Json& podTemplate, int64_t collisionCount) {
  // nlohmann dumps object keys sorted, so equal templates always hash alike.
  std::string text = withoutHashLabel(podTemplate).dump();
  if (collisionCount > 0) {
    text += std::to_string(collisionCount);
  }
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  std::string digits = std::to_string(h);
  std::string out;
  for (char c : digits) {
    out += kSafeAlphabet[static_cast<unsigned char>(c) % kSafeAlphabetLen];
  }
  return out;
}

namespace {

// Drops nulls and empty objects/arrays, as Go's semantic equality ignores the difference between
// an omitted field and a zero one (kubectl sends "creationTimestamp": null and "resources": {}).
void pruneEmpty(Json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      pruneEmpty(*it);
      bool empty = it->is_null() || ((it->is_object() || it->is_array()) && it->empty());
      it = empty ? j.erase(it) : std::next(it);
    }
  } else if (j.is_array()) {
    for (auto& e : j) {
      pruneEmpty(e);
    }
  }
}

}  // namespace

Json withoutHashLabel(Json podTemplate) {
  pruneEmpty(podTemplate);
  if (podTemplate.contains("metadata") && podTemplate["metadata"].contains("labels") &&
      podTemplate["metadata"]["labels"].is_object()) {
    auto& labels = podTemplate["metadata"]["labels"];
    labels.erase("pod-template-hash");
    if (labels.empty()) {
      podTemplate["metadata"].erase("labels");
    }
  }
  return podTemplate;
}

std::string randomSuffix(Random& random, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    int idx = static_cast<int>(random.uniform() * kSafeAlphabetLen);
    out += kSafeAlphabet[std::clamp(idx, 0, kSafeAlphabetLen - 1)];
  }
  return out;
}

Json controllerRef(const Json& owner, const std::string& apiVersion, const std::string& kind) {
  return Json{{"apiVersion", apiVersion},
              {"kind", kind},
              {"name", strAt(owner, "/metadata/name")},
              {"uid", strAt(owner, "/metadata/uid")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

Json controllerOf(const Json& obj) {
  const Json* refs = at(obj, "/metadata/ownerReferences");
  if (refs != nullptr && refs->is_array()) {
    for (const auto& r : *refs) {
      if (r.value("controller", false)) {
        return r;
      }
    }
  }
  return nullptr;
}

Json firstContainer(const Json& pod) {
  const Json* c = at(pod, "/spec/containers/0");
  return c != nullptr && c->is_object() ? *c : Json::object();
}

bool isTerminating(const Json& obj) {
  const Json* ts = at(obj, "/metadata/deletionTimestamp");
  return ts != nullptr && !ts->is_null();
}

bool isPodActive(const Json& pod) {
  std::string phase = strAt(pod, "/status/phase");
  return !isTerminating(pod) && phase != "Succeeded" && phase != "Failed";
}

bool isPodReady(const Json& pod) {
  const Json* conds = at(pod, "/status/conditions");
  if (conds == nullptr || !conds->is_array()) {
    return false;
  }
  for (const auto& c : *conds) {
    if (strAt(c, "/type") == "Ready") {
      return strAt(c, "/status") == "True";
    }
  }
  return false;
}

bool isPodAvailable(const Json& pod, int64_t minReadySeconds, WallTime now, Duration* wait) {
  if (!isPodReady(pod)) {
    return false;
  }
  if (minReadySeconds <= 0) {
    return true;
  }
  for (const auto& c : pod["status"]["conditions"]) {
    WallTime since;
    if (strAt(c, "/type") == "Ready" && parseRfc3339(strAt(c, "/lastTransitionTime"), since)) {
      auto readyAt = since + std::chrono::seconds(minReadySeconds);
      if (now >= readyAt) {
        return true;
      }
      if (wait != nullptr) {
        *wait = std::chrono::duration_cast<Duration>(readyAt - now);
      }
      return false;
    }
  }
  return false;
}

int64_t resolveIntOrPercent(const Json& v, int64_t total, bool roundUp, int64_t fallback) {
  if (v.is_number_integer()) {
    return v.get<int64_t>();
  }
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      double pct = std::strtod(s.substr(0, s.size() - 1).c_str(), nullptr);
      double exact = pct * static_cast<double>(total) / 100.0;
      return static_cast<int64_t>(roundUp ? std::ceil(exact) : std::floor(exact));
    }
    return std::strtoll(s.c_str(), nullptr, 10);
  }
  return fallback;
}

void sortForDeletion(std::vector<Json>& pods,
                     const std::function<uint64_t(const Json&)>& sequence) {
  auto rank = [&](const Json& p) {
    bool assigned = !strAt(p, "/spec/nodeName").empty();
    // Descending "newness" keys are negated so that one ascending tuple sorts everything.
    return std::make_tuple(assigned, phaseRank(p), isPodReady(p), deletionCost(p), -restarts(p),
                           strAt(p, "/metadata/creationTimestamp"), sequence(p));
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const Json& a, const Json& b) {
    auto ra = rank(a);
    auto rb = rank(b);
    // Newer first: compare the creation keys the other way round.
    auto headA = std::make_tuple(std::get<0>(ra), std::get<1>(ra), std::get<2>(ra), std::get<3>(ra),
                                 std::get<4>(ra));
    auto headB = std::make_tuple(std::get<0>(rb), std::get<1>(rb), std::get<2>(rb), std::get<3>(rb),
                                 std::get<4>(rb));
    if (headA != headB) {
      return headA < headB;
    }
    return std::make_tuple(std::get<5>(rb), std::get<6>(rb)) <
           std::make_tuple(std::get<5>(ra), std::get<6>(ra));
  });
}

}  // namespace waha::sim::workloads

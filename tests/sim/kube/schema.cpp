#include "schema.h"

#include <map>
#include <mutex>
#include <regex>

namespace waha::sim {

namespace {

bool preservesUnknown(const Json& s) {
  return s.value("x-kubernetes-preserve-unknown-fields", false);
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Go's %#v-like rendering the apiserver uses in "Invalid value: ..." messages.
std::string showValue(const Json& v) {
  if (v.is_string()) {
    return "\"" + v.get<std::string>() + "\"";
  }
  if (v.is_object()) {
    return "\"object\"";
  }
  if (v.is_array()) {
    return "\"array\"";
  }
  return v.dump();
}

std::string typeName(const Json& v) {
  if (v.is_string()) {
    return "string";
  }
  if (v.is_boolean()) {
    return "boolean";
  }
  if (v.is_number_integer() || v.is_number_unsigned()) {
    return "integer";
  }
  if (v.is_number()) {
    return "number";
  }
  if (v.is_object()) {
    return "object";
  }
  if (v.is_array()) {
    return "array";
  }
  return "null";
}

// Compiled patterns are cached: schemas are applied on every write.
const std::regex* compiled(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<std::regex>> cache;
  std::lock_guard<std::mutex> lk(mu);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    std::unique_ptr<std::regex> re;
    try {
      re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      re = nullptr;
    }
    it = cache.emplace(pattern, std::move(re)).first;
  }
  return it->second.get();
}

bool typeMatches(const std::string& type, const Json& v, const Json& s) {
  if (s.value("x-kubernetes-int-or-string", false)) {
    return v.is_string() || v.is_number_integer();
  }
  if (type.empty()) {
    return true;
  }
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() &&
            v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>())));
  }
  if (type == "number") {
    return v.is_number();
  }
  return typeName(v) == type;
}

void validateNode(const Json& s, const Json& v, const std::string& path,
                  std::vector<FieldCause>& out);

void validateScalars(const Json& s, const Json& v, const std::string& path,
                     std::vector<FieldCause>& out) {
  if (s.contains("enum") && s["enum"].is_array()) {
    bool found = false;
    std::string supported;
    for (const auto& e : s["enum"]) {
      found = found || e == v;
      supported += (supported.empty() ? "" : ", ") + showValue(e);
    }
    if (!found) {
      out.push_back({"FieldValueNotSupported", path,
                     "Unsupported value: " + showValue(v) + ": supported values: " + supported});
    }
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (s.contains("minimum") && d < s["minimum"].get<double>()) {
      out.push_back({"FieldValueInvalid", path,
                     "Invalid value: " + v.dump() + ": " + path +
                         " in body should be greater than or equal to " + s["minimum"].dump()});
    }
    if (s.contains("maximum") && d > s["maximum"].get<double>()) {
      out.push_back({"FieldValueInvalid", path,
                     "Invalid value: " + v.dump() + ": " + path +
                         " in body should be less than or equal to " + s["maximum"].dump()});
    }
  }
  if (v.is_string()) {
    const std::string& str = v.get_ref<const std::string&>();
    if (s.contains("maxLength") && str.size() > s["maxLength"].get<size_t>()) {
      out.push_back(
          {"FieldValueTooLong", path, "Too long: may not be longer than " + s["maxLength"].dump()});
    }
    if (s.contains("minLength") && str.size() < s["minLength"].get<size_t>()) {
      out.push_back({"FieldValueInvalid", path,
                     "Invalid value: " + showValue(v) + ": " + path +
                         " in body should be at least " + s["minLength"].dump() + " chars long"});
    }
    if (s.contains("pattern") && s["pattern"].is_string()) {
      const std::regex* re = compiled(s["pattern"].get<std::string>());
      if (re != nullptr && !std::regex_search(str, *re)) {
        out.push_back({"FieldValueInvalid", path,
                       "Invalid value: " + showValue(v) + ": " + path + " in body should match '" +
                           s["pattern"].get<std::string>() + "'"});
      }
    }
  }
}

void validateNode(const Json& s, const Json& v, const std::string& path,
                  std::vector<FieldCause>& out) {
  if (!s.is_object()) {
    return;
  }
  if (v.is_null()) {
    if (!s.value("nullable", false) && s.contains("type")) {
      out.push_back({"FieldValueTypeInvalid", path,
                     "Invalid value: \"null\": " + path + " in body must be of type " +
                         s["type"].get<std::string>() + ": \"null\""});
    }
    return;
  }
  std::string type = s.value("type", "");
  if (!typeMatches(type, v, s)) {
    out.push_back({"FieldValueTypeInvalid", path,
                   "Invalid value: \"" + typeName(v) + "\": " + path + " in body must be of type " +
                       type + ": \"" + typeName(v) + "\""});
    return;
  }
  validateScalars(s, v, path, out);
  if (v.is_object()) {
    for (const auto& r : s.value("required", Json::array())) {
      if (r.is_string() && !v.contains(r.get<std::string>())) {
        out.push_back({"FieldValueRequired", join(path, r.get<std::string>()), "Required value"});
      }
    }
    const Json& props = s.value("properties", Json::object());
    for (const auto& [k, child] : v.items()) {
      if (props.contains(k)) {
        validateNode(props[k], child, join(path, k), out);
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
        validateNode(s["additionalProperties"], child, join(path, k), out);
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) {
      out.push_back({"FieldValueTooMany", path,
                     "Too many: " + std::to_string(v.size()) + ": must have at most " +
                         s["maxItems"].dump() + " items"});
    }
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) {
      out.push_back({"FieldValueInvalid", path,
                     "Invalid value: " + std::to_string(v.size()) + ": " + path +
                         " in body should have at least " + s["minItems"].dump() + " items"});
    }
    if (s.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        validateNode(s["items"], v[i], path + "[" + std::to_string(i) + "]", out);
      }
    }
  }
}

void pruneNode(const Json& s, Json& v, bool root) {
  if (!s.is_object() || preservesUnknown(s)) {
    // Preserved subtrees keep unknown fields, but declared properties below are still pruned.
    if (s.is_object() && v.is_object() && s.contains("properties")) {
      for (auto& [k, child] : v.items()) {
        if (s["properties"].contains(k)) {
          pruneNode(s["properties"][k], child, false);
        }
      }
    }
    return;
  }
  if (v.is_object()) {
    const Json& props = s.value("properties", Json::object());
    bool additional = s.contains("additionalProperties") && !s["additionalProperties"].is_boolean();
    for (auto it = v.begin(); it != v.end();) {
      const std::string key = it.key();
      if (root && (key == "apiVersion" || key == "kind" || key == "metadata")) {
        ++it;
      } else if (props.contains(key)) {
        pruneNode(props[key], it.value(), false);
        ++it;
      } else if (additional) {
        pruneNode(s["additionalProperties"], it.value(), false);
        ++it;
      } else if (s.value("additionalProperties", false) == true) {
        ++it;
      } else {
        it = v.erase(it);
      }
    }
  } else if (v.is_array() && s.contains("items")) {
    for (auto& item : v) {
      pruneNode(s["items"], item, false);
    }
  }
}

}  // namespace

void pruneUnknown(const Json& schema, Json& obj) { pruneNode(schema, obj, true); }

void applyDefaults(const Json& s, Json& v) {
  if (!s.is_object()) {
    return;
  }
  if (v.is_object()) {
    const Json props = s.value("properties", Json::object());
    for (const auto& [k, child] : props.items()) {
      if (!v.contains(k) && child.is_object() && child.contains("default")) {
        v[k] = child["default"];
      }
      if (v.contains(k)) {
        applyDefaults(child, v[k]);
      }
    }
  } else if (v.is_array() && s.contains("items")) {
    for (auto& item : v) {
      applyDefaults(s["items"], item);
    }
  }
}

std::vector<FieldCause> validateSchema(const Json& schema, const Json& obj) {
  std::vector<FieldCause> out;
  if (!schema.is_object()) {
    return out;
  }
  Json body = obj;
  // metadata is validated by the generic registry, not by the CRD schema.
  body.erase("metadata");
  body.erase("apiVersion");
  body.erase("kind");
  Json s = schema;
  if (s.contains("properties")) {
    s["properties"].erase("metadata");
    s["properties"].erase("apiVersion");
    s["properties"].erase("kind");
  }
  if (s.contains("required")) {
    Json req = Json::array();
    for (const auto& r : s["required"]) {
      if (r != "metadata" && r != "apiVersion" && r != "kind") {
        req.push_back(r);
      }
    }
    s["required"] = req;
  }
  validateNode(s, body, "", out);
  return out;
}

std::string invalidMessage(const std::string& kindGroup, const std::string& name,
                           const std::vector<FieldCause>& causes) {
  std::string msg = kindGroup + " \"" + name + "\" is invalid: ";
  if (causes.size() == 1) {
    return msg + causes[0].full();
  }
  msg += "[";
  for (size_t i = 0; i < causes.size(); ++i) {
    msg += (i ? ", " : "") + causes[i].full();
  }
  return msg + "]";
}

}  // namespace waha::sim

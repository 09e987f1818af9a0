#include "unit/api/schema_check.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/clock.h"

namespace waha::test {
namespace {

bool isInteger(const std::string& s) {
  static const std::regex re("^[-+]?[0-9]+$");
  return std::regex_match(s, re);
}

bool isFloat(const std::string& s) {
  static const std::regex re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  return std::regex_match(s, re);
}

Json toJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& item : n) {
        a.push_back(toJson(item));
      }
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) {
        o[kv.first.as<std::string>()] = toJson(kv.second);
      }
      return o;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string s = n.Scalar();
  if (n.Tag() == "!") {  // quoted: always a string
    return s;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  if (s == "null" || s == "Null" || s == "NULL" || s == "~") {
    return nullptr;
  }
  if (isInteger(s)) {
    return std::stoll(s);
  }
  if (isFloat(s)) {
    return std::stod(s);
  }
  return s;
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool typeMatches(const Json& v, const std::string& type) {
  if (type == "object") {
    return v.is_object();
  }
  if (type == "array") {
    return v.is_array();
  }
  if (type == "string") {
    return v.is_string();
  }
  if (type == "integer") {
    return v.is_number_integer();
  }
  if (type == "number") {
    return v.is_number();
  }
  if (type == "boolean") {
    return v.is_boolean();
  }
  return false;
}

void check(const Json& v, const Json& s, const std::string& path, std::vector<SchemaError>& out) {
  const bool intOrString = s.value("x-kubernetes-int-or-string", false);
  if (intOrString) {
    if (!v.is_number_integer() && !v.is_string()) {
      out.push_back({path, "must be an integer or a string"});
      return;
    }
  } else if (s.contains("type") && !typeMatches(v, s["type"].get<std::string>())) {
    out.push_back({path, "must be of type " + s["type"].get<std::string>()});
    return;
  }
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) {
      found = found || e == v;
    }
    if (!found) {
      out.push_back({path, "unsupported value " + v.dump()});
    }
  }
  if (v.is_number()) {
    if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>()) {
      out.push_back({path, "must be >= " + s["minimum"].dump()});
    }
    if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>()) {
      out.push_back({path, "must be <= " + s["maximum"].dump()});
    }
  }
  if (v.is_string()) {
    const auto str = v.get<std::string>();
    if (s.contains("minLength") && str.size() < s["minLength"].get<std::size_t>()) {
      out.push_back({path, "must be at least " + s["minLength"].dump() + " characters"});
    }
    if (s.contains("maxLength") && str.size() > s["maxLength"].get<std::size_t>()) {
      out.push_back({path, "must be at most " + s["maxLength"].dump() + " characters"});
    }
    if (s.contains("pattern") &&
        !std::regex_search(str, std::regex(s["pattern"].get<std::string>()))) {
      out.push_back({path, "must match " + s["pattern"].get<std::string>()});
    }
    WallTime t;
    if (s.value("format", "") == "date-time" && !parseRfc3339(str, t)) {
      out.push_back({path, "must be an RFC 3339 date-time"});
    }
  }
  if (v.is_array()) {
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>()) {
      out.push_back({path, "must have at most " + s["maxItems"].dump() + " items"});
    }
    if (s.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        check(v[i], s["items"], path + "[" + std::to_string(i) + "]", out);
      }
    }
  }
  if (v.is_object()) {
    for (const auto& r : s.value("required", Json::array())) {
      if (!v.contains(r.get<std::string>())) {
        out.push_back({join(path, r.get<std::string>()), "required"});
      }
    }
    const bool preserve = s.value("x-kubernetes-preserve-unknown-fields", false);
    for (auto it = v.begin(); it != v.end(); ++it) {
      const auto sub = join(path, it.key());
      if (s.contains("properties") && s["properties"].contains(it.key())) {
        check(*it, s["properties"][it.key()], sub, out);
      } else if (s.contains("additionalProperties")) {
        check(*it, s["additionalProperties"], sub, out);
      } else if (!preserve && !(path == "metadata" || path.rfind("metadata.", 0) == 0)) {
        out.push_back({sub, "field not declared in the schema (would be pruned)"});
      }
    }
  }
}

void structural(const Json& s, const std::string& path, bool root,
                const std::vector<std::string>& preserveAllowed, std::vector<std::string>& out) {
  auto bad = [&](const std::string& why) { out.push_back(path + ": " + why); };
  if (path == "metadata") {
    if (s != Json{{"type", "object"}}) {
      bad("root metadata may only say type: object");
    }
    return;
  }
  const bool intOrString = s.value("x-kubernetes-int-or-string", false);
  if (!s.contains("type") && !intOrString) {
    bad("no type");
  }
  if (!s.contains("description") || s["description"].get<std::string>().empty()) {
    bad("no description");
  }
  if (s.contains("x-kubernetes-preserve-unknown-fields")) {
    if (std::find(preserveAllowed.begin(), preserveAllowed.end(), path) == preserveAllowed.end()) {
      bad("x-kubernetes-preserve-unknown-fields outside the allowed fields");
    }
  }
  if (s.contains("properties") && s.contains("additionalProperties")) {
    bad("both properties and additionalProperties");
  }
  for (const char* k : {"x-kubernetes-validations", "$ref", "oneOf", "allOf", "not"}) {
    if (s.contains(k)) {
      bad(std::string("uses ") + k);
    }
  }
  if (s.contains("anyOf") &&
      !(intOrString && s["anyOf"] == Json::parse(R"([{"type":"integer"},{"type":"string"}])"))) {
    bad("anyOf other than the int-or-string form");
  }
  if (s.value("type", "") == "object" && !s.contains("properties") &&
      !s.contains("additionalProperties") && !s.contains("x-kubernetes-preserve-unknown-fields")) {
    bad("object without properties: everything in it would be pruned");
  }
  if (s.value("type", "") == "array" && !s.contains("items")) {
    bad("array without items");
  }
  if (s.contains("default")) {
    if (root) {
      bad("default at the root");
    }
    Json d = s["default"];
    applySchemaDefaults(d, s);
    for (const auto& e : checkSchema(d, s, path)) {
      bad("default does not validate: " + e.path + ": " + e.message);
    }
  }
  const Json props = s.value("properties", Json::object());
  for (auto it = props.begin(); it != props.end(); ++it) {
    structural(*it, join(path, it.key()), false, preserveAllowed, out);
  }
  if (s.contains("items")) {
    structural(s["items"], path + "[]", false, preserveAllowed, out);
  }
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
    structural(s["additionalProperties"], path + ".*", false, preserveAllowed, out);
  }
}

}  // namespace

std::vector<Json> loadYamlAll(const std::string& text) {
  std::vector<Json> docs;
  for (const auto& n : YAML::LoadAll(text)) {
    if (!n.IsNull()) {
      docs.push_back(toJson(n));
    }
  }
  return docs;
}

std::vector<Json> loadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return loadYamlAll(ss.str());
}

const Json& crdSchema(const Json& crd) {
  return crd.at("spec").at("versions").at(0).at("schema").at("openAPIV3Schema");
}

std::vector<SchemaError> checkSchema(const Json& value, const Json& schema,
                                     const std::string& path) {
  std::vector<SchemaError> out;
  check(value, schema, path, out);
  return out;
}

void applySchemaDefaults(Json& value, const Json& schema) {
  if (value.is_object() && schema.contains("properties")) {
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      if (!value.contains(it.key()) && it->contains("default")) {
        value[it.key()] = (*it)["default"];
      }
      if (value.contains(it.key())) {
        applySchemaDefaults(value[it.key()], *it);
      }
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (auto& item : value) {
      applySchemaDefaults(item, schema["items"]);
    }
  }
}

std::vector<std::string> structuralProblems(const Json& schema,
                                            const std::vector<std::string>& preserveAllowed) {
  std::vector<std::string> out;
  if (schema.value("type", "") != "object") {
    out.push_back("root: type must be object");
  }
  const Json props = schema.value("properties", Json::object());
  for (auto it = props.begin(); it != props.end(); ++it) {
    structural(*it, it.key(), false, preserveAllowed, out);
  }
  if (schema.contains("default")) {
    out.push_back("root: default not allowed");
  }
  return out;
}

const Json* schemaAt(const Json& schema, const std::string& jsonPath) {
  const Json* s = &schema;
  std::stringstream ss(jsonPath.substr(jsonPath.rfind('.', 0) == 0 ? 1 : 0));
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!s->contains("properties") || !(*s)["properties"].contains(part)) {
      return nullptr;
    }
    s = &(*s)["properties"][part];
  }
  return s;
}

}  // namespace waha::test

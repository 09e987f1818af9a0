#pragma once

// Test-side stand-ins for what a kube-apiserver does with the CRDs, so schema-level rules are
// tested without a cluster: YAML -> JSON as kubectl sends it, openAPIV3Schema validation
// (type/enum/minimum/maximum/pattern/length/items/required, unknown fields), structural
// defaulting, and the structural-schema rules the API server enforces when a CRD is created.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace waha::test {

using Json = nlohmann::json;

// Every document of a YAML file or string, converted to JSON with YAML 1.2 core typing
// (plain true/false/null/numbers typed, quoted scalars strings).
std::vector<Json> loadYamlAll(const std::string& text);
std::vector<Json> loadYamlFile(const std::string& path);

// The openAPIV3Schema of a CRD document (first version).
const Json& crdSchema(const Json& crd);

struct SchemaError {
  std::string path;
  std::string message;
};

// Validates `value` against `schema`; paths are "spec.workers.min" style. Fields the schema does
// not declare are reported too (the API server would silently prune them: a typo).
std::vector<SchemaError> checkSchema(const Json& value, const Json& schema,
                                     const std::string& path = "");

// Applies schema defaults like the API server: absent properties with a default get it, then
// defaulting continues inside (so `default: {}` parents get their children's defaults).
void applySchemaDefaults(Json& value, const Json& schema);

// Structural-schema violations (type everywhere, description everywhere, preserve-unknown only
// where allowed, no properties with additionalProperties, anyOf only as int-or-string, root
// metadata only `type: object`, no CEL, defaults valid). Empty when structural.
std::vector<std::string> structuralProblems(const Json& schema,
                                            const std::vector<std::string>& preserveAllowed);

// The sub-schema at a JSONPath like ".status.me.id"; nullptr if the path leaves the schema.
const Json* schemaAt(const Json& schema, const std::string& jsonPath);

}  // namespace waha::test

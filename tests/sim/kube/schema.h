#pragma once

// Structural-schema handling of custom resources, as apiextensions-apiserver does it on every
// create/update: prune unknown fields, apply defaults, then validate (errors carry field paths).

#include <string>
#include <vector>

#include "object_store.h"

namespace waha::sim {

struct FieldCause {
  std::string reason;   // FieldValueRequired, FieldValueNotSupported, FieldValueInvalid, ...
  std::string field;    // "spec.workers.min"
  std::string message;  // "Required value", "Unsupported value: \"Foo\": supported values: ..."
  std::string full() const { return field + ": " + message; }
};

// Drops fields the schema does not declare (except under x-kubernetes-preserve-unknown-fields);
// apiVersion, kind and metadata of the root object always stay.
void pruneUnknown(const Json& schema, Json& obj);
// Fills `default`s of absent properties (recursively, also inside array items).
void applyDefaults(const Json& schema, Json& obj);
// Everything wrong with `obj` (empty when valid). Only `spec`/`status`/... are checked at the root.
std::vector<FieldCause> validateSchema(const Json& schema, const Json& obj);

// The apiserver's 422 text: `Kind.group "name" is invalid: cause` or `...: [c1, c2]`.
std::string invalidMessage(const std::string& kindGroup, const std::string& name,
                           const std::vector<FieldCause>& causes);

}  // namespace waha::sim

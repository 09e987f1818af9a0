#pragma once

// The four PATCH flavours of the apiserver.

#include <string>

#include "object_store.h"

namespace waha::sim {

// RFC 7386 JSON merge patch (null deletes).
Json mergePatch(Json target, const Json& patch);
// RFC 6902 JSON patch (add, remove, replace, move, copy, test). Errors are 422 (failed test:
// 422 too, like the apiserver) or 400 for malformed operations.
Result<Json> jsonPatch(Json target, const Json& ops);
// Strategic merge patch for built-in kinds: lists with a merge key (containers/env/volumes... by
// name, ports by containerPort/port, conditions by type) merge element-wise; `$patch: delete`,
// `$patch: replace`, `$retainKeys`, `$deleteFromPrimitiveList/` and `$setElementOrder/` directives.
Json strategicMerge(Json target, const Json& patch);
// Server-side apply, minimal: the applied configuration is merged over the live object (strategic
// for built-ins, otherwise merge without deletions); managedFields records the manager.
Json serverSideApply(Json live, const Json& applied, bool strategic, const std::string& manager);

}  // namespace waha::sim

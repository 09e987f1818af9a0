#pragma once

// Errors leave kube-sim as metav1.Status objects. Result<T>'s Error has no room for Status.details
// (name, kind, causes), so the store leaves them here for the REST handler on the same thread.

#include <string>

#include "object_store.h"

namespace waha::sim {

void setErrorDetails(Json details);
// Takes (and clears) the details left by the last failing call on this thread.
Json takeErrorDetails();
// {"kind":"Status","apiVersion":"v1","status":"Failure",...} for an error.
Json statusJson(const Error& e, Json details = nullptr);

}  // namespace waha::sim

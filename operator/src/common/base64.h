#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace waha {

// Standard base64 (RFC 4648) with padding.
std::string base64Encode(std::string_view in);
// Decodes standard base64; white space is skipped, padding optional. nullopt on any other
// character or a truncated group.
std::optional<std::string> base64Decode(std::string_view in);

}  // namespace waha

#pragma once

// Byte-level helpers of the simulator: a real PNG for QR answers, base64 (WAHA's JSON image
// form and sendFile bodies), SHA-256 (so tests can prove a body crossed the hub intact).

#include <optional>
#include <string>
#include <string_view>

namespace waha::sim {

// A valid grayscale PNG showing a QR-like pattern derived from `value` (not a scannable QR:
// only the container format matters to clients).
std::string makeQrPng(std::string_view value);

std::string base64Encode(std::string_view data);
std::optional<std::string> base64Decode(std::string_view text);
std::string sha256Hex(std::string_view data);
// Compares secrets without an early exit on the first differing byte.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace waha::sim

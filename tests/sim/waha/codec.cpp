#include "codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <vector>

namespace waha::sim {
namespace {

void putU32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void putChunk(std::string& out, const char* type, const std::string& data) {
  putU32(out, static_cast<std::uint32_t>(data.size()));
  std::string typed = std::string(type, 4) + data;
  out += typed;
  auto crc =
      crc32(0L, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()));
  putU32(out, static_cast<std::uint32_t>(crc));
}

constexpr int kModules = 29;  // QR version 3
constexpr int kBorder = 4;
constexpr int kScale = 4;

bool finderModule(int x, int y) {
  auto inFinder = [](int fx, int fy) {
    if (fx < 0 || fy < 0 || fx > 6 || fy > 6) {
      return -1;
    }
    bool ring = fx == 0 || fy == 0 || fx == 6 || fy == 6;
    bool core = fx >= 2 && fx <= 4 && fy >= 2 && fy <= 4;
    return (ring || core) ? 1 : 0;
  };
  for (auto [ox, oy] : {std::pair{0, 0}, std::pair{kModules - 7, 0}, std::pair{0, kModules - 7}}) {
    int v = inFinder(x - ox, y - oy);
    if (v >= 0) {
      return v == 1;
    }
  }
  // Data modules: a cheap hash of the position stands in for the encoded payload.
  return false;
}

}  // namespace

std::string makeQrPng(std::string_view value) {
  std::uint32_t seed = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(value.data()), static_cast<uInt>(value.size())));
  const int side = (kModules + 2 * kBorder) * kScale;
  std::string raw;
  raw.reserve(static_cast<std::size_t>(side) * (side + 1));
  for (int py = 0; py < side; ++py) {
    raw.push_back(0);  // filter type None
    for (int px = 0; px < side; ++px) {
      int mx = px / kScale - kBorder;
      int my = py / kScale - kBorder;
      bool dark = false;
      if (mx >= 0 && my >= 0 && mx < kModules && my < kModules) {
        bool finderArea =
            (mx < 8 && my < 8) || (mx >= kModules - 8 && my < 8) || (mx < 8 && my >= kModules - 8);
        if (finderArea) {
          dark = finderModule(mx, my);
        } else {
          std::uint32_t h = seed ^ (static_cast<std::uint32_t>(mx) * 2654435761u) ^
                            (static_cast<std::uint32_t>(my) * 40503u);
          h ^= h >> 13;
          dark = (h & 1u) != 0;
        }
      }
      raw.push_back(dark ? 0 : static_cast<char>(0xff));
    }
  }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::string z(zlen, '\0');
  compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  z.resize(zlen);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  putU32(ihdr, static_cast<std::uint32_t>(side));
  putU32(ihdr, static_cast<std::uint32_t>(side));
  ihdr.push_back(8);  // bit depth
  ihdr.push_back(0);  // colour type: grayscale
  ihdr.push_back(0);  // compression
  ihdr.push_back(0);  // filter
  ihdr.push_back(0);  // interlace
  putChunk(png, "IHDR", ihdr);
  putChunk(png, "IDAT", z);
  putChunk(png, "IEND", "");
  return png;
}

std::string base64Encode(std::string_view data) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint8_t>(data[i]) << 16) |
                      (static_cast<std::uint8_t>(data[i + 1]) << 8) |
                      static_cast<std::uint8_t>(data[i + 2]);
    out.push_back(tbl[(n >> 18) & 63]);
    out.push_back(tbl[(n >> 12) & 63]);
    out.push_back(tbl[(n >> 6) & 63]);
    out.push_back(tbl[n & 63]);
  }
  std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint8_t>(data[i]) << 16;
    if (rest == 2) {
      n |= static_cast<std::uint8_t>(data[i + 1]) << 8;
    }
    out.push_back(tbl[(n >> 18) & 63]);
    out.push_back(tbl[(n >> 12) & 63]);
    out.push_back(rest == 2 ? tbl[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  std::array<int, 256> rev{};
  rev.fill(-1);
  const std::string_view tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < tbl.size(); ++i) {
    rev[static_cast<unsigned char>(tbl[i])] = static_cast<int>(i);
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == '=' || ch == '\n' || ch == '\r') {
      continue;
    }
    int v = rev[static_cast<unsigned char>(ch)];
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;  // the key's length is not the secret
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace waha::sim

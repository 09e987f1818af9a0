#include "common/result.h"

namespace waha {

std::string Error::str() const {
  std::string out;
  if (code != 0) {
    out += std::to_string(code) + " ";
  }
  if (!reason.empty()) {
    out += reason + ": ";
  }
  out += message;
  return out;
}

}  // namespace waha

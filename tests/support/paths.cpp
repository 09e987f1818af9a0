#include "support/paths.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace waha::test {

std::string sourceDir() {
  const char* v = std::getenv("WAHA_SOURCE_DIR");
  return v != nullptr ? v : ".";
}

std::string binaryDir() {
  const char* v = std::getenv("WAHA_BINARY_DIR");
  return v != nullptr ? v : ".";
}

std::string binaryPath(const std::string& relative) { return binaryDir() + "/" + relative; }

std::string makeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + tmpl);
  }
  return buf.data();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

}  // namespace waha::test

#pragma once

#include <string>

namespace waha::test {

// The source and build trees (set by CTest through WAHA_SOURCE_DIR / WAHA_BINARY_DIR).
std::string sourceDir();
std::string binaryDir();
// Path of a program built by this project, e.g. binaryPath("tests/sim/kube/kube-sim").
std::string binaryPath(const std::string& relative);
// A fresh, empty temporary directory, removed by the caller (or left for post-mortems).
std::string makeTempDir(const std::string& prefix = "waha-test");
std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);

}  // namespace waha::test

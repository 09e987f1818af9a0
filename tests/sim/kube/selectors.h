#pragma once

// Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=) as the
// apiserver parses them from ?labelSelector= / ?fieldSelector=.

#include <string>
#include <vector>

#include "object_store.h"

namespace waha::sim {

struct SelectorTerm {
  enum class Op { Eq, NotEq, In, NotIn, Exists, NotExists };
  std::string key;
  Op op = Op::Eq;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  static Result<LabelSelector> parse(const std::string& text);
  // From a metav1.LabelSelector object (matchLabels / matchExpressions).
  static LabelSelector fromObject(const Json& sel);
  bool matches(const Json& labels) const;
  bool empty() const { return terms_.empty(); }
  std::string str() const;

 private:
  std::vector<SelectorTerm> terms_;
};

class FieldSelector {
 public:
  static Result<FieldSelector> parse(const std::string& text);
  bool matches(const Json& obj) const;
  bool empty() const { return terms_.empty(); }

 private:
  std::vector<SelectorTerm> terms_;
};

// Value at a dotted path ("spec.nodeName"), "" when absent; numbers and bools as text.
std::string fieldText(const Json& obj, const std::string& dottedPath);

}  // namespace waha::sim

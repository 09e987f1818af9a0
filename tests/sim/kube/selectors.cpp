#include "selectors.h"

#include <algorithm>
#include <cctype>

namespace waha::sim {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) {
    return "";
  }
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits at commas that are not inside parentheses ("a in (x,y),b").
std::vector<std::string> splitTerms(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    }
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) {
    out.push_back(trim(cur));
  }
  return out;
}

Error badSelector(const std::string& what, const std::string& text) {
  return Error::make(400, "BadRequest",
                     "unable to parse requirement: invalid " + what + ": \"" + text + "\"");
}

bool matchTerm(const SelectorTerm& t, bool present, const std::string& value) {
  switch (t.op) {
    case SelectorTerm::Op::Eq:
      return present && value == t.values[0];
    case SelectorTerm::Op::NotEq:
      return !present || value != t.values[0];
    case SelectorTerm::Op::In:
      return present && std::find(t.values.begin(), t.values.end(), value) != t.values.end();
    case SelectorTerm::Op::NotIn:
      return !present || std::find(t.values.begin(), t.values.end(), value) == t.values.end();
    case SelectorTerm::Op::Exists:
      return present;
    case SelectorTerm::Op::NotExists:
      return !present;
  }
  return false;
}

Result<SelectorTerm> parseTerm(const std::string& term, bool allowSets) {
  SelectorTerm t;
  if (!term.empty() && term[0] == '!') {
    t.key = trim(term.substr(1));
    t.op = SelectorTerm::Op::NotExists;
    return t;
  }
  size_t ne = term.find("!=");
  size_t eq = term.find('=');
  if (ne != std::string::npos) {
    t.key = trim(term.substr(0, ne));
    t.op = SelectorTerm::Op::NotEq;
    t.values = {trim(term.substr(ne + 2))};
    return t;
  }
  if (eq != std::string::npos) {
    bool dbl = eq + 1 < term.size() && term[eq + 1] == '=';
    t.key = trim(term.substr(0, eq));
    t.op = SelectorTerm::Op::Eq;
    t.values = {trim(term.substr(eq + (dbl ? 2 : 1)))};
    return t;
  }
  size_t paren = term.find('(');
  if (paren != std::string::npos && allowSets) {
    std::string head = trim(term.substr(0, paren));
    size_t sp = head.find_last_of(" \t");
    if (sp == std::string::npos || term.back() != ')') {
      return badSelector("selector", term);
    }
    std::string op = trim(head.substr(sp + 1));
    t.key = trim(head.substr(0, sp));
    if (op == "in") {
      t.op = SelectorTerm::Op::In;
    } else if (op == "notin") {
      t.op = SelectorTerm::Op::NotIn;
    } else {
      return badSelector("operator", op);
    }
    std::string inner = term.substr(paren + 1, term.size() - paren - 2);
    size_t pos = 0;
    while (pos <= inner.size()) {
      size_t c = inner.find(',', pos);
      std::string v = trim(inner.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
      if (!v.empty()) {
        t.values.push_back(v);
      }
      if (c == std::string::npos) {
        break;
      }
      pos = c + 1;
    }
    return t;
  }
  if (!allowSets) {
    return badSelector("field selector", term);
  }
  t.key = trim(term);
  t.op = SelectorTerm::Op::Exists;
  return t;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelSelector s;
  for (const auto& term : splitTerms(text)) {
    auto t = parseTerm(term, true);
    if (!t) {
      return t.error();
    }
    s.terms_.push_back(*t);
  }
  return s;
}

LabelSelector LabelSelector::fromObject(const Json& sel) {
  LabelSelector s;
  if (!sel.is_object()) {
    return s;
  }
  const Json matchLabels = sel.value("matchLabels", Json::object());
  for (const auto& [k, v] : matchLabels.items()) {
    s.terms_.push_back(
        SelectorTerm{k, SelectorTerm::Op::Eq, {v.is_string() ? v.get<std::string>() : v.dump()}});
  }
  for (const auto& e : sel.value("matchExpressions", Json::array())) {
    SelectorTerm t;
    t.key = e.value("key", "");
    std::string op = e.value("operator", "");
    t.op = op == "In"             ? SelectorTerm::Op::In
           : op == "NotIn"        ? SelectorTerm::Op::NotIn
           : op == "DoesNotExist" ? SelectorTerm::Op::NotExists
                                  : SelectorTerm::Op::Exists;
    t.values = e.value("values", std::vector<std::string>{});
    s.terms_.push_back(t);
  }
  return s;
}

bool LabelSelector::matches(const Json& labels) const {
  for (const auto& t : terms_) {
    bool present = labels.is_object() && labels.contains(t.key);
    std::string value =
        present && labels[t.key].is_string() ? labels[t.key].get<std::string>() : "";
    if (!matchTerm(t, present, value)) {
      return false;
    }
  }
  return true;
}

std::string LabelSelector::str() const {
  std::string out;
  for (const auto& t : terms_) {
    if (!out.empty()) {
      out += ",";
    }
    switch (t.op) {
      case SelectorTerm::Op::Eq:
        out += t.key + "=" + t.values[0];
        break;
      case SelectorTerm::Op::NotEq:
        out += t.key + "!=" + t.values[0];
        break;
      case SelectorTerm::Op::In:
      case SelectorTerm::Op::NotIn: {
        out += t.key + (t.op == SelectorTerm::Op::In ? " in (" : " notin (");
        for (size_t i = 0; i < t.values.size(); ++i) {
          out += (i ? "," : "") + t.values[i];
        }
        out += ")";
        break;
      }
      case SelectorTerm::Op::Exists:
        out += t.key;
        break;
      case SelectorTerm::Op::NotExists:
        out += "!" + t.key;
        break;
    }
  }
  return out;
}

Result<FieldSelector> FieldSelector::parse(const std::string& text) {
  FieldSelector s;
  for (const auto& term : splitTerms(text)) {
    auto t = parseTerm(term, false);
    if (!t) {
      return t.error();
    }
    s.terms_.push_back(*t);
  }
  return s;
}

bool FieldSelector::matches(const Json& obj) const {
  for (const auto& t : terms_) {
    if (!matchTerm(t, true, fieldText(obj, t.key))) {
      return false;
    }
  }
  return true;
}

std::string fieldText(const Json& obj, const std::string& dottedPath) {
  const Json* cur = &obj;
  size_t pos = 0;
  while (pos <= dottedPath.size()) {
    size_t dot = dottedPath.find('.', pos);
    std::string part =
        dottedPath.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!part.empty()) {
      if (!cur->is_object() || !cur->contains(part)) {
        return "";
      }
      cur = &(*cur)[part];
    }
    if (dot == std::string::npos) {
      break;
    }
    pos = dot + 1;
  }
  if (cur->is_string()) {
    return cur->get<std::string>();
  }
  if (cur->is_null()) {
    return "";
  }
  return cur->dump();
}

}  // namespace waha::sim
